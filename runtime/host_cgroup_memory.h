// The memory of a container's host cgroup: the cgroup its shim is in (with
// linux.cgroupsPath, the container's, which QEMU shares). That is what
// containerd's runc shim (`ctr task metrics`, the CRI) and Podman
// (`podman stats`) read for the container: the VM's host memory, QEMU's
// own and the guest RAM it has touched, not the container's use inside
// the guest (`runvm events`' runc slots).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "spec/cgroup/layout.h"

namespace runvm::cli {

struct HostCgroupMemory {
  uint64_t usage = 0;
  uint64_t limit = 0;  // 0: none (v2 "max"); v1's "unlimited" as the kernel gives it
  bool operator==(const HostCgroupMemory&) const = default;
};

// From `layout` (parse_layout with the pid's /proc/<pid>/cgroup): v1
// memory.usage_in_bytes and memory.limit_in_bytes, v2 memory.current and
// memory.max. nullopt without a memory hierarchy or when they cannot be read.
std::optional<HostCgroupMemory> read_host_cgroup_memory(const cgroup::Layout& layout);

// The same for the cgroup `pid` is in, seen from our mount namespace.
std::optional<HostCgroupMemory> host_cgroup_memory(pid_t pid);

}  // namespace runvm::cli
