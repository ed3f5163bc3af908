// The "process" section of config.json.
#include "spec/config_parse.h"
#include "spec/json_fields.h"

namespace runvm::oci::detail {

namespace {

using json::Value;

Result<uint32_t> as_u32(const Value& v) {
  return static_cast<uint32_t>(RUNVM_TRY(fields::as_uint(v, UINT32_MAX)));
}

Result<ConsoleSize> parse_console_size(const Value& v) {
  ConsoleSize s;
  if (auto h = RUNVM_TRY(fields::get(v, "height"))) s.height = RUNVM_TRY(as_u32(*h));
  if (auto w = RUNVM_TRY(fields::get(v, "width"))) s.width = RUNVM_TRY(as_u32(*w));
  return s;
}

Result<User> parse_user(const Value& v) {
  User u;
  if (auto uid = RUNVM_TRY(fields::get(v, "uid"))) u.uid = RUNVM_TRY(as_u32(*uid));
  if (auto gid = RUNVM_TRY(fields::get(v, "gid"))) u.gid = RUNVM_TRY(as_u32(*gid));
  if (auto umask = RUNVM_TRY(fields::get(v, "umask")))
    u.umask = static_cast<uint32_t>(RUNVM_TRY(fields::as_uint(*umask, 0777)));
  u.additional_gids = RUNVM_TRY(fields::list<uint32_t>(v, "additionalGids", as_u32));
  return u;
}

Result<Capabilities> parse_capabilities(const Value& v) {
  Capabilities c;
  c.bounding = RUNVM_TRY(fields::string_list(v, "bounding"));
  c.effective = RUNVM_TRY(fields::string_list(v, "effective"));
  c.inheritable = RUNVM_TRY(fields::string_list(v, "inheritable"));
  c.permitted = RUNVM_TRY(fields::string_list(v, "permitted"));
  c.ambient = RUNVM_TRY(fields::string_list(v, "ambient"));
  return c;
}

Result<Rlimit> parse_rlimit(const Value& v) {
  Rlimit r;
  Value type = RUNVM_TRY(fields::require(v, "type"));
  r.type = RUNVM_TRY(type.as_string());
  if (r.type.empty()) return type.error("must not be empty");
  if (auto h = RUNVM_TRY(fields::get(v, "hard"))) r.hard = RUNVM_TRY(fields::as_uint(*h));
  if (auto s = RUNVM_TRY(fields::get(v, "soft"))) r.soft = RUNVM_TRY(fields::as_uint(*s));
  return r;
}

Result<IoPriority> parse_io_priority(const Value& v) {
  IoPriority p;
  Value cls = RUNVM_TRY(fields::require(v, "class"));
  p.io_class = RUNVM_TRY(
      fields::one_of(cls, {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"}, "class"));
  if (auto prio = RUNVM_TRY(fields::get(v, "priority")))
    p.priority = static_cast<int32_t>(RUNVM_TRY(fields::as_int(*prio, 0, 7)));
  return p;
}

Result<Scheduler> parse_scheduler(const Value& v) {
  Scheduler s;
  Value policy = RUNVM_TRY(fields::require(v, "policy"));
  s.policy = RUNVM_TRY(fields::one_of(policy,
                                      {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH",
                                       "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"},
                                      "policy"));
  if (auto n = RUNVM_TRY(fields::get(v, "nice")))
    s.nice = static_cast<int32_t>(RUNVM_TRY(fields::as_int(*n, -20, 19)));
  if (auto p = RUNVM_TRY(fields::get(v, "priority")))
    s.priority = static_cast<int32_t>(RUNVM_TRY(fields::as_int(*p, INT32_MIN, INT32_MAX)));
  s.flags = RUNVM_TRY(fields::list<std::string>(v, "flags", [](const Value& f) {
    return fields::one_of(
        f,
        {"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN",
         "SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN",
         "SCHED_FLAG_UTIL_CLAMP_MAX"},
        "flag");
  }));
  if (auto r = RUNVM_TRY(fields::get(v, "runtime"))) s.runtime = RUNVM_TRY(fields::as_uint(*r));
  if (auto d = RUNVM_TRY(fields::get(v, "deadline"))) s.deadline = RUNVM_TRY(fields::as_uint(*d));
  if (auto p = RUNVM_TRY(fields::get(v, "period"))) s.period = RUNVM_TRY(fields::as_uint(*p));
  return s;
}

}  // namespace

Result<Process> parse_process(const Value& v) {
  if (!v.is_object()) return v.error("must be an object");
  Process p;
  p.terminal = RUNVM_TRY(fields::bool_or_false(v, "terminal"));
  if (auto cs = RUNVM_TRY(fields::get(v, "consoleSize")))
    p.console_size = RUNVM_TRY(parse_console_size(*cs));
  if (auto u = RUNVM_TRY(fields::get(v, "user"))) p.user = RUNVM_TRY(parse_user(*u));

  Value args = RUNVM_TRY(fields::require(v, "args"));
  p.args = RUNVM_TRY(fields::string_list(v, "args"));
  if (p.args.empty()) return args.error("must not be empty");
  p.env = RUNVM_TRY(parse_env(v));
  Value cwd = RUNVM_TRY(fields::require(v, "cwd"));
  p.cwd = RUNVM_TRY(cwd.as_string());
  if (!fields::is_absolute_path(p.cwd)) return cwd.error("must be an absolute path");

  if (auto caps = RUNVM_TRY(fields::get(v, "capabilities")))
    p.capabilities = RUNVM_TRY(parse_capabilities(*caps));
  p.rlimits = RUNVM_TRY(fields::list<Rlimit>(v, "rlimits", parse_rlimit));
  p.no_new_privileges = RUNVM_TRY(fields::bool_or_false(v, "noNewPrivileges"));
  p.apparmor_profile = RUNVM_TRY(fields::string_or_empty(v, "apparmorProfile"));
  p.selinux_label = RUNVM_TRY(fields::string_or_empty(v, "selinuxLabel"));
  if (auto oom = RUNVM_TRY(fields::get(v, "oomScoreAdj")))
    p.oom_score_adj = static_cast<int32_t>(RUNVM_TRY(fields::as_int(*oom, -1000, 1000)));
  if (auto s = RUNVM_TRY(fields::get(v, "scheduler"))) p.scheduler = RUNVM_TRY(parse_scheduler(*s));
  if (auto io = RUNVM_TRY(fields::get(v, "ioPriority")))
    p.io_priority = RUNVM_TRY(parse_io_priority(*io));
  return p;
}

}  // namespace runvm::oci::detail
