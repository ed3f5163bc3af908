// The config's mounts as the agent gets them. A bind mount of a host path
// becomes its own virtio-fs share (CachePolicy::kCoherent: the host may
// change it; read-only when the mount is "ro"): a directory is shared
// itself, a file through its parent directory, and the guest clones the
// file out of that share. Shares are deduplicated by (directory, ro) and
// tagged "bind0", "bind1", ... in config order, so the shim (which adds the
// shares to the VM) and the create request agree.
#pragma once

#include <vector>

#include "guest/protocol/linux_spec.h"
#include "shim/vm/micro_vm.h"
#include "spec/config.h"

namespace runvm {

struct MountPlan {
  std::vector<FsShare> shares;
  std::vector<proto::Mount> mounts;  // in config order
};

// Fails (naming "mounts[i].source") when a bind source is missing or is
// neither a directory nor a regular file.
Result<MountPlan> plan_mounts(const std::vector<oci::Mount>& mounts);

}  // namespace runvm
