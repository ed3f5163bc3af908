// The PID 1 duties of runvm-agent: the minimal system a container runtime
// needs (pseudo filesystems, console) and powering off. (Reaping is the
// agent's event loop: it must see the container's exit status.)
#pragma once

#include <string_view>

#include "spec/base/result.h"

namespace runvm::agent {

// The guest's cgroup2 hierarchy (container_cgroup.h).
inline constexpr const char* kCgroupRoot = "/sys/fs/cgroup";

// Mounts /proc, /sys, /sys/fs/cgroup, /dev, /dev/pts, /dev/shm, /run and
// /tmp; already mounted targets are accepted.
Status mount_pseudo_filesystems();

// Sets the loopback interface up, as a new network namespace under runc
// has it: containers bind 127.0.0.1 and expect it to work.
Status bring_up_loopback();

// vm.overcommit_memory = 1: the guest is sized to the container's memory
// limit, and the kernel's heuristic would refuse any single allocation
// larger than that RAM (ENOMEM, "dd: out of memory"), where on a host of
// runc's the allocation succeeds and touching it past the limit gets the
// process OOM-killed (137). The container's memory.max (container_cgroup.h)
// is what bounds it. A container's linux.sysctl may set it back.
Status allow_overcommit();

// Points fds 0-2 at /dev/console.
Status attach_console();

// One line "runvm-agent: msg" to stderr (the console once attached).
void log_line(std::string_view msg);

// sync() then reboot(RB_AUTOBOOT); with QEMU's -no-reboot and reboot=t
// that ends the VM. Never returns, as PID 1 must never exit.
[[noreturn]] void power_off();

}  // namespace runvm::agent
