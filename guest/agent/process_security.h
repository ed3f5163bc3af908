// What a container process's capabilities and seccomp filter resolve to,
// worked out by the agent before fork so a bad request refuses the create
// (or exec) cleanly. The InitPlan points into it: keep it alive until the
// process reported ready.
#pragma once

#include <optional>

#include "guest/agent/capabilities.h"
#include "guest/agent/process_init.h"
#include "guest/agent/seccomp_filter.h"

namespace runvm::agent {

struct ProcessSecurity {
  std::optional<CapabilityPlan> capabilities;
  std::optional<SeccompFilter> seccomp;
};

// Fills `security` from the request and points `plan` at it.
Status resolve_security(const proto::Process& process, const std::optional<proto::Seccomp>& seccomp,
                        ProcessSecurity& security, InitPlan& plan);

}  // namespace runvm::agent
