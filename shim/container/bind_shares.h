// The config's mounts as the agent gets them. A bind mount of a host path
// becomes its own virtio-fs share (CachePolicy::kCoherent: the host may
// change it; read-only when the mount is "ro"): a file or directory is
// shared through its parent directory with only its own name visible
// (FsConfig::visible), and the guest clones it out of that share by name,
// so the container's mountinfo shows its name as runc's does; "/" is shared
// itself. Shares are deduplicated by (directory, ro), their visible names
// merged, and tagged "bind0", "bind1", ... in config order, so the shim
// (which adds the shares to the VM) and the create request agree.
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

// Bind sources are as oci::load_bundle leaves them: every symlink resolved.
// Each share holds its directory opened with no symlink followed
// (FsConfig::dir_fd). Fails (naming "mounts[i].source") when a bind source
// is missing, is neither a directory nor a regular file, or has a symlink
// in it (it was swapped since it was resolved).
Result<MountPlan> plan_mounts(const std::vector<oci::Mount>& mounts);

}  // namespace runvm
