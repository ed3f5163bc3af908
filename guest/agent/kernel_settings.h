// Guest-kernel knobs a create asks for: linux.sysctl (written by the agent
// before fork: one VM per container, so they are the container's), and the
// container process's oom_score_adj.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "spec/base/result.h"

namespace runvm::agent {

// Writes each value to <proc_sys>/<key with '.' as '/'>. Keys must be
// dot/slash separated [A-Za-z0-9_-] components (they stay under proc_sys).
Status apply_sysctl(const std::map<std::string, std::string>& sysctl,
                    const std::string& proc_sys = "/proc/sys");

Status set_oom_score_adj(int32_t value);

}  // namespace runvm::agent
