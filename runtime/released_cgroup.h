// A released pool unit (pool_release.h) ends after its container's `run`
// or `delete` returned: within tens of ms, at most kReleasedGrace while a
// reader still takes output. Its shim and QEMU leave the container's host
// cgroup, which goes at once, for a cgroup of their own with the
// container's limits (memory, CPU quota, period and weight, cpuset,
// copied from its cgroup as `update` left them), /runvm-released/<unit> in
// every hierarchy: nothing the container ran keeps running without its
// bounds. Moved processes keep
// their pages charged where they were; what they allocate from then on is
// charged, and limited, here. The cgroup is removed once empty by a later
// release or `pool drain` (sweep_released_cgroups).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/container_dir.h"
#include "spec/cgroup/cgroup.h"

namespace runvm::cli {

inline constexpr char kReleasedCgroup[] = "/runvm-released";

// Moves `pids` (the unit `unit`'s shim and QEMU) into `unit`'s released
// cgroup with the limits of the host cgroup of the container whose state
// dir is `container`, as they are now. false: the container has no host
// cgroup (it had no limits to keep).
Result<bool> place_released(const ContainerDir& container, const std::string& unit,
                            const std::vector<pid_t>& pids);

// What place_released does in `layout`: makes the cgroup, copies the
// limits of the cgroup `container_path` (kCopiedLimits that it has) to it,
// moves `pids` (ones that exited meanwhile are skipped). A cgroup removed
// under it by a concurrent sweep (it was still empty) is made again.
Status place_released_in(const cgroup::Layout& layout, const std::string& container_path,
                         const std::string& unit, const std::vector<pid_t>& pids);

// The limit files a released unit keeps of its container's cgroup (those
// create and update write, host_cgroup.h), v1 and v2; a period before its
// quota. The cpuset too: a v1 cgroup is made with its parent's cpus and
// mems (cgroup::Cgroup::create), a v2 one has its parent's, the root's
// under /runvm-released, where the container's had its own parent's (a
// cgroupsPath under a pinned slice) or those it asked for. On v2 the
// effective sets are copied (cpuset.cpus.effective, cpuset.mems.effective):
// its own may be empty (its parent's) or wider than its parent allows.
inline constexpr const char* kCopiedLimits[] = {
    "memory.limit_in_bytes", "memory.max", "cpu.shares",       "cpu.weight",
    "cpu.cfs_period_us",     "cpu.max",    "cpu.cfs_quota_us", "cpuset.cpus",
    "cpuset.mems",
};

// Removes every released cgroup of `layout` that is empty (its unit
// ended); best effort.
void sweep_released_cgroups(const cgroup::Layout& layout);
void sweep_released_cgroups();

}  // namespace runvm::cli
