// A container's host cgroup through systemd (`--systemd-cgroup`, with
// linux.cgroupsPath "slice:prefix:name"), as runc's systemd driver: a
// transient scope unit made with org.freedesktop.systemd1.Manager's
// StartTransientUnit over the system bus (libsystemd's sd-bus), holding the
// shim (and so QEMU), removed with StopUnit. DBUS_SYSTEM_BUS_ADDRESS names
// another bus (the tests' private one).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "spec/base/result.h"
#include "spec/cgroup/cgroup.h"

namespace runvm::cgroup {

struct SystemdUnit {
  std::string slice;  // "system.slice" when the path leaves it empty
  std::string unit;   // "prefix-name.scope"
};

// "slice:prefix:name" as runc reads it; errors quote runc's message.
Result<SystemdUnit> parse_systemd_path(std::string_view cgroups_path);

// Starts `u` as a transient scope holding `pid`, with `limits` (memory,
// CPU shares, quota and period; the cpuset as AllowedCPUs on cgroup v2;
// `memory_v1`, the v1 layout: MemoryLimit instead of MemoryMax) and
// Delegate=yes, and waits for its job. Fails with one line when systemd is
// not there: "systemd is not running (...)".
Status start_scope(const SystemdUnit& u, pid_t pid, const Limits& limits, bool memory_v1);

// runvm update: the running unit's limits (as start_scope names them) with
// SetUnitProperties, for the unit's runtime.
Status set_unit_limits(const std::string& unit, const Limits& limits, bool memory_v1);

// Stops the unit (killing what is left in it) and waits for the job; a
// unit that is not there is fine.
Status stop_unit(const std::string& unit);

}  // namespace runvm::cgroup
