// The end of a claimed pool unit as its container's `run` or `delete`
// sees it (issue 14, runvm-pool(8)): the container is over once the unit
// holds nothing of it on the host, which comes well before the unit's VM
// is gone (QEMU killed and reaped, its RAM freed: tens of ms under load).
#pragma once

#include <string>

#include "runtime/container_dir.h"
#include "runtime/verbs.h"

namespace runvm::cli::pool {

// After the container `id`'s relay exited (its process's exit and output
// are final) or was killed: waits (bounded) until its unit `rel`'s shim
// unbound the container's rootfs and bind sources from the unit's share
// (it does so when the member ends, before its relay hears of the exit),
// then moves the unit's shim and QEMU out of the container's host cgroup
// (`dir`'s config snapshot names it; none, nothing moves) into one of
// their own with the container's limits (released_cgroup.h),
// so that the cgroup can go at once, and returns: the
// unit's shim shuts its VM down and removes the unit's directories on its
// own. A unit that does not get there in time, or whose shim is dead, is
// ended here as end_claimed_unit does.
void release_claimed_unit(const GlobalOptions& g, const std::string& rel, const std::string& id,
                          const ContainerDir& dir);

}  // namespace runvm::cli::pool
