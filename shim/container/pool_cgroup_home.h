// A pool unit's way back to the pool's cgroup (runvm-pool(8)) once its
// container ended. A claim moves the unit's shim and QEMU into the
// container's host cgroup; when the container's process ends they return,
// right after its relay was told the exit, so that the `delete` that
// follows finds its cgroup empty and removes it at once: a migration of its
// own there would wait for an RCU grace period on cgroup v1 (~10 ms). The
// files are opened at boot, before the shim is confined; best effort, as
// `delete` moves whatever is still in the cgroup (runtime/pool_release.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "spec/base/unique_fd.h"

namespace runvm {

class PoolCgroupHome {
 public:
  // The pool cgroup's cgroup.procs in every mounted hierarchy; none where
  // it does not exist (the unit never left its starter's cgroup then).
  static PoolCgroupHome open();
  // Moves each of `pids` (all its threads) there, unless this process is
  // in the cgroups it booted in (a container without a host cgroup): a
  // migration costs its grace period even to where a process is already.
  void take_back(const std::vector<pid_t>& pids) const;

 private:
  std::vector<UniqueFd> procs_;
  std::string booted_in_;  // /proc/self/cgroup at open()
};

}  // namespace runvm
