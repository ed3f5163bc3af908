#include "guest/agent/seccomp_filter.h"

#include <cerrno>
#include <cstring>
#include <set>
#include <string_view>

namespace runvm::agent {
namespace {

Error seccomp_error(std::string_view what, int rc) {
  return make_error("seccomp: " + std::string(what) + ": " + std::strerror(-rc));
}

Result<uint32_t> action_of(std::string_view name, std::optional<uint32_t> errno_ret) {
  uint32_t e = errno_ret.value_or(EPERM);
  if (e > 0xffff) return make_error("seccomp: errnoRet " + std::to_string(e) + " is too large");
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(e);
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(e);
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") return make_error("seccomp: SCMP_ACT_NOTIFY is not supported");
  return make_error("seccomp: unknown action \"" + std::string(name) + "\"");
}

Result<scmp_compare> compare_of(std::string_view op) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return make_error("seccomp: unknown operator \"" + std::string(op) + "\"");
}

// "SCMP_ARCH_X86_64" -> libseccomp's token.
Result<uint32_t> arch_of(std::string_view name) {
  constexpr std::string_view kPrefix = "SCMP_ARCH_";
  std::string token;
  if (name.starts_with(kPrefix))
    for (char c : name.substr(kPrefix.size()))
      token.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  uint32_t arch = token.empty() ? 0 : seccomp_arch_resolve_name(token.c_str());
  if (arch == 0) return make_error("seccomp: unknown architecture \"" + std::string(name) + "\"");
  return arch;
}

Status set_flag(scmp_filter_ctx ctx, std::string_view flag) {
  int rc = 0;
  if (flag == "SECCOMP_FILTER_FLAG_TSYNC")
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  else if (flag == "SECCOMP_FILTER_FLAG_LOG")
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
  else if (flag == "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
  // WAIT_KILLABLE_RECV only concerns notify listeners, which we refuse.
  else if (flag != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
    return make_error("seccomp: unknown flag \"" + std::string(flag) + "\"");
  if (rc < 0) return seccomp_error(flag, rc);
  return {};
}

Status add_rule(scmp_filter_ctx ctx, uint32_t default_action, const proto::SeccompSyscall& call) {
  uint32_t action = RUNVM_TRY(action_of(call.action, call.errno_ret));
  if (action == default_action) return {};  // runc skips these; libseccomp refuses them
  std::vector<scmp_arg_cmp> conds;
  std::set<uint32_t> indices;
  bool repeated = false;
  for (const auto& a : call.args) {
    if (a.index > 5) return make_error("seccomp: argument index above 5");
    conds.push_back({a.index, RUNVM_TRY(compare_of(a.op)), a.value, a.value_two});
    repeated |= !indices.insert(a.index).second;
  }
  for (const auto& name : call.names) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // unknown to libseccomp: skipped, as runc does
    auto add = [&](const scmp_arg_cmp* c, unsigned n) -> Status {
      int rc = seccomp_rule_add_array(ctx, action, nr, n, c);
      if (rc < 0) return seccomp_error("adding a rule for \"" + name + "\"", rc);
      return {};
    };
    // Conditions on one argument index cannot be ANDed by libseccomp: as
    // runc, give each its own rule (which ORs them).
    if (repeated) {
      for (const auto& c : conds) RUNVM_CHECK(add(&c, 1));
    } else {
      RUNVM_CHECK(add(conds.data(), static_cast<unsigned>(conds.size())));
    }
  }
  return {};
}

}  // namespace

Result<SeccompFilter> SeccompFilter::build(const proto::Seccomp& spec) {
  uint32_t default_action = RUNVM_TRY(action_of(spec.default_action, spec.default_errno_ret));
  scmp_filter_ctx ctx = seccomp_init(default_action);
  if (!ctx) return make_error("seccomp: cannot create a filter");
  SeccompFilter filter(ctx);
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) return seccomp_error("clearing the no_new_privs attribute", rc);
  for (const auto& name : spec.architectures) {
    rc = seccomp_arch_add(ctx, RUNVM_TRY(arch_of(name)));
    if (rc < 0 && rc != -EEXIST) return seccomp_error("adding architecture " + name, rc);
  }
  for (const auto& flag : spec.flags) RUNVM_CHECK(set_flag(ctx, flag));
  for (const auto& call : spec.syscalls) RUNVM_CHECK(add_rule(ctx, default_action, call));
  return filter;
}

Status SeccompFilter::load() const {
  int rc = seccomp_load(ctx_.get());
  if (rc < 0) return seccomp_error("loading the filter", rc);
  return {};
}

}  // namespace runvm::agent
