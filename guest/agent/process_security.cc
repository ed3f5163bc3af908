#include "guest/agent/process_security.h"

namespace runvm::agent {

Status resolve_security(const proto::Process& process, const std::optional<proto::Seccomp>& seccomp,
                        ProcessSecurity& security, InitPlan& plan) {
  if (process.capabilities) {
    security.capabilities = RUNVM_TRY(resolve_capabilities(*process.capabilities));
    plan.capabilities = &*security.capabilities;
  }
  if (seccomp) {
    security.seccomp.emplace(RUNVM_TRY(SeccompFilter::build(*seccomp).context("linux.seccomp")));
    plan.seccomp = &*security.seccomp;
  }
  return {};
}

}  // namespace runvm::agent
