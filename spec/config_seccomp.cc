// linux.seccomp: names are checked against the lists runc accepts; turning
// them into a BPF filter is libseccomp's job later.
#include "spec/config_parse.h"
#include "spec/json_fields.h"
#include "spec/seccomp_names.h"

namespace runvm::oci::detail {

namespace {

using json::Value;

bool takes_errno(std::string_view action) {
  return action == "SCMP_ACT_ERRNO" || action == "SCMP_ACT_TRACE";
}

// `errnoRet` belongs to ERRNO and TRACE actions only (config-linux.md).
Result<std::optional<uint32_t>> parse_errno_ret(const Value& obj, std::string_view key,
                                                std::string_view action) {
  auto v = RUNVM_TRY(fields::get(obj, key));
  if (!v) return std::optional<uint32_t>();
  uint32_t e = static_cast<uint32_t>(RUNVM_TRY(fields::as_uint(*v, UINT32_MAX)));
  if (!takes_errno(action)) return v->error("only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
  return std::optional<uint32_t>(e);
}

Result<SeccompArg> parse_arg(const Value& v) {
  SeccompArg a;
  // A syscall has six argument registers.
  Value index = RUNVM_TRY(fields::require(v, "index"));
  a.index = static_cast<uint32_t>(RUNVM_TRY(fields::as_uint(index, 5)));
  if (auto x = RUNVM_TRY(fields::get(v, "value"))) a.value = RUNVM_TRY(fields::as_uint(*x));
  if (auto x = RUNVM_TRY(fields::get(v, "valueTwo"))) a.value_two = RUNVM_TRY(fields::as_uint(*x));
  Value op = RUNVM_TRY(fields::require(v, "op"));
  a.op = RUNVM_TRY(fields::one_of(op, kSeccompOperators, "operator"));
  return a;
}

Result<SeccompSyscall> parse_syscall(const Value& v) {
  SeccompSyscall s;
  Value names = RUNVM_TRY(fields::require(v, "names"));
  s.names = RUNVM_TRY(fields::string_list(v, "names"));
  if (s.names.empty()) return names.error("must not be empty");
  Value action = RUNVM_TRY(fields::require(v, "action"));
  s.action = RUNVM_TRY(fields::one_of(action, kSeccompActions, "action"));
  s.errno_ret = RUNVM_TRY(parse_errno_ret(v, "errnoRet", s.action));
  s.args = RUNVM_TRY(fields::list<SeccompArg>(v, "args", parse_arg));
  return s;
}

}  // namespace

Result<Seccomp> parse_seccomp(const Value& v) {
  if (!v.is_object()) return v.error("must be an object");
  Seccomp s;
  Value action = RUNVM_TRY(fields::require(v, "defaultAction"));
  s.default_action = RUNVM_TRY(fields::one_of(action, kSeccompActions, "action"));
  // As runc: the runtime must still make syscalls (to hand over the listener
  // fd) once the filter is loaded.
  if (s.default_action == "SCMP_ACT_NOTIFY")
    return action.error("SCMP_ACT_NOTIFY cannot be the default action");
  s.default_errno_ret = RUNVM_TRY(parse_errno_ret(v, "defaultErrnoRet", s.default_action));
  s.architectures = RUNVM_TRY(fields::list<std::string>(v, "architectures", [](const Value& a) {
    return fields::one_of(a, kSeccompArchs, "architecture");
  }));
  s.flags = RUNVM_TRY(fields::list<std::string>(
      v, "flags", [](const Value& f) { return fields::one_of(f, kSeccompFlags, "flag"); }));
  s.listener_path = RUNVM_TRY(fields::string_or_empty(v, "listenerPath"));
  s.listener_metadata = RUNVM_TRY(fields::string_or_empty(v, "listenerMetadata"));
  s.syscalls = RUNVM_TRY(fields::list<SeccompSyscall>(v, "syscalls", parse_syscall));
  return s;
}

}  // namespace runvm::oci::detail
