// process.capabilities applied the way runc does: resolved before fork (an
// unknown name refuses the create), then in the container process the
// bounding set is dropped while still root, capabilities are kept across
// setresuid (PR_SET_KEEPCAPS), and after it the effective, permitted and
// inheritable sets are set and the ambient set raised. Capabilities the
// guest kernel does not have are ignored, as runc ignores them.
// Absent `capabilities` (like runc's nil) leaves them alone: root keeps
// all, a non-root user loses them at setresuid/execve as usual.
#pragma once

#include <sys/capability.h>

#include <vector>

#include "guest/protocol/linux_spec.h"
#include "spec/base/result.h"

namespace runvm::agent {

struct CapabilityPlan {
  std::vector<cap_value_t> bounding, effective, inheritable, permitted, ambient;
};

Result<CapabilityPlan> resolve_capabilities(const proto::Capabilities& caps);

// Before setresuid: drops what is not in the bounding set, keeps caps across
// the uid change.
Status apply_bounding_set(const CapabilityPlan& plan);
// After setresuid: the process's sets and the ambient set.
Status apply_capabilities(const CapabilityPlan& plan);

}  // namespace runvm::agent
