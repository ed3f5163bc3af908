#include "guest/protocol/linux_spec.h"

#include <algorithm>
#include <limits>

#include "guest/protocol/fields.h"

namespace runvm::proto {
namespace {

constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();

void write_strings(json::Writer& w, std::string_view key, const std::vector<std::string>& items) {
  w.key(key).begin_array();
  for (const auto& s : items) w.string(s);
  w.end_array();
}

Result<std::vector<std::string>> strings(const json::Value& v, std::string_view key) {
  return fields::opt_strings(v, key, kMaxListItems);
}

// An optional list of objects, each parsed by `parse`.
template <typename T, typename F>
Result<std::vector<T>> objects(const json::Value& v, std::string_view key, F parse) {
  std::vector<T> out;
  auto field = RUNVM_TRY(v.get(key));
  if (!field) return out;
  auto items = RUNVM_TRY(field->as_array());
  if (items.size() > kMaxListItems)
    return field->error("at most " + std::to_string(kMaxListItems) + " items");
  for (const auto& item : items) out.push_back(RUNVM_TRY(parse(item)));
  return out;
}

Result<std::optional<uint32_t>> opt_u32(const json::Value& v, std::string_view key) {
  auto field = RUNVM_TRY(v.get(key));
  if (!field) return std::optional<uint32_t>();
  return std::optional<uint32_t>(
      static_cast<uint32_t>(RUNVM_TRY(fields::bounded(*field, kU32Max))));
}

Result<SeccompArg> parse_arg(const json::Value& v) {
  SeccompArg a;
  a.index = static_cast<uint32_t>(RUNVM_TRY(fields::bounded(RUNVM_TRY(v.at("index")), 5)));
  a.value = RUNVM_TRY(fields::opt_bounded(v, "value", UINT64_MAX, 0));
  a.value_two = RUNVM_TRY(fields::opt_bounded(v, "value_two", UINT64_MAX, 0));
  a.op = RUNVM_TRY(fields::string(v, "op"));
  return a;
}

Result<SeccompSyscall> parse_syscall(const json::Value& v) {
  SeccompSyscall s;
  s.names = RUNVM_TRY(strings(v, "names"));
  s.action = RUNVM_TRY(fields::string(v, "action"));
  s.errno_ret = RUNVM_TRY(opt_u32(v, "errno_ret"));
  s.args = RUNVM_TRY(objects<SeccompArg>(v, "args", parse_arg));
  return s;
}

Result<Seccomp> parse_seccomp(const json::Value& v) {
  Seccomp s;
  s.default_action = RUNVM_TRY(fields::string(v, "default_action"));
  s.default_errno_ret = RUNVM_TRY(opt_u32(v, "default_errno_ret"));
  s.architectures = RUNVM_TRY(strings(v, "architectures"));
  s.flags = RUNVM_TRY(strings(v, "flags"));
  s.syscalls = RUNVM_TRY(objects<SeccompSyscall>(v, "syscalls", parse_syscall));
  return s;
}

void write_seccomp(json::Writer& w, const Seccomp& s) {
  w.begin_object();
  w.key("default_action").string(s.default_action);
  if (s.default_errno_ret) w.key("default_errno_ret").uinteger(*s.default_errno_ret);
  write_strings(w, "architectures", s.architectures);
  write_strings(w, "flags", s.flags);
  w.key("syscalls").begin_array();
  for (const auto& c : s.syscalls) {
    w.begin_object();
    write_strings(w, "names", c.names);
    w.key("action").string(c.action);
    if (c.errno_ret) w.key("errno_ret").uinteger(*c.errno_ret);
    w.key("args").begin_array();
    for (const auto& a : c.args) {
      w.begin_object();
      w.key("index").uinteger(a.index);
      w.key("value").uinteger(a.value);
      w.key("value_two").uinteger(a.value_two);
      w.key("op").string(a.op);
      w.end_object();
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

bool absolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

Result<int64_t> int_in(const json::Value& v, int64_t min, int64_t max) {
  int64_t n = RUNVM_TRY(v.as_int());
  if (n < min || n > max)
    return v.error("must be in " + std::to_string(min) + ".." + std::to_string(max));
  return n;
}

Result<Device> parse_device(const json::Value& v) {
  Device d;
  json::Value type = RUNVM_TRY(v.at("type"));
  d.type = RUNVM_TRY(type.as_string());
  if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
    return type.error("must be one of c, b, u, p");
  d.path = RUNVM_TRY(fields::string(v, "path"));
  if (!absolute(d.path) || d.path == "/") return RUNVM_TRY(v.at("path")).error("must be absolute");
  d.major = static_cast<uint32_t>(RUNVM_TRY(fields::opt_bounded(v, "major", kMaxDeviceMajor, 0)));
  d.minor = static_cast<uint32_t>(RUNVM_TRY(fields::opt_bounded(v, "minor", kMaxDeviceMinor, 0)));
  d.file_mode = static_cast<uint32_t>(RUNVM_TRY(fields::opt_bounded(v, "file_mode", 07777, 0666)));
  d.uid = static_cast<uint32_t>(RUNVM_TRY(fields::opt_bounded(v, "uid", kU32Max, 0)));
  d.gid = static_cast<uint32_t>(RUNVM_TRY(fields::opt_bounded(v, "gid", kU32Max, 0)));
  return d;
}

Result<HugepageLimit> parse_hugepage_limit(const json::Value& v) {
  HugepageLimit h;
  json::Value size = RUNVM_TRY(v.at("page_size"));
  h.page_size = RUNVM_TRY(size.as_string());
  if (!valid_hugepage_size(h.page_size)) return size.error("must be like \"2MB\"");
  h.limit = RUNVM_TRY(fields::u64(v, "limit"));
  return h;
}

constexpr std::string_view kPropagations[] = {
    "", "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable"};

Result<Mount> parse_mount(const json::Value& v) {
  Mount m;
  m.destination = RUNVM_TRY(fields::string(v, "destination"));
  if (!absolute(m.destination)) return RUNVM_TRY(v.at("destination")).error("must be absolute");
  m.type = RUNVM_TRY(fields::opt_string(v, "type"));
  m.source = RUNVM_TRY(fields::opt_string(v, "source"));
  m.share = RUNVM_TRY(fields::opt_string(v, "share"));
  m.options = RUNVM_TRY(strings(v, "options"));
  return m;
}

}  // namespace

bool valid_hugepage_size(std::string_view size) {
  if (size.size() < 3 || size.size() > 16) return false;
  std::string_view digits = size.substr(0, size.size() - 2), unit = size.substr(size.size() - 2);
  if (unit != "KB" && unit != "MB" && unit != "GB") return false;
  if (digits[0] == '0') return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  return true;
}

void write_io_priority(json::Writer& w, const IoPriority& p) {
  w.begin_object();
  w.key("class").string(p.io_class);
  w.key("priority").uinteger(p.priority);
  w.end_object();
}

Result<IoPriority> parse_io_priority(const json::Value& v) {
  IoPriority p;
  p.io_class = RUNVM_TRY(fields::string(v, "class"));
  p.priority = static_cast<uint32_t>(RUNVM_TRY(fields::opt_bounded(v, "priority", 7, 0)));
  return p;
}

void write_scheduler(json::Writer& w, const Scheduler& s) {
  w.begin_object();
  w.key("policy").string(s.policy);
  w.key("nice").integer(s.nice);
  w.key("priority").integer(s.priority);
  write_strings(w, "flags", s.flags);
  w.key("runtime").uinteger(s.runtime);
  w.key("deadline").uinteger(s.deadline);
  w.key("period").uinteger(s.period);
  w.end_object();
}

Result<Scheduler> parse_scheduler(const json::Value& v) {
  Scheduler s;
  s.policy = RUNVM_TRY(fields::string(v, "policy"));
  if (auto n = RUNVM_TRY(v.get("nice")))
    s.nice = static_cast<int32_t>(RUNVM_TRY(int_in(*n, -20, 19)));
  if (auto p = RUNVM_TRY(v.get("priority")))
    s.priority = static_cast<int32_t>(RUNVM_TRY(int_in(*p, INT32_MIN, INT32_MAX)));
  s.flags = RUNVM_TRY(fields::opt_strings(v, "flags", 16));
  s.runtime = RUNVM_TRY(fields::opt_bounded(v, "runtime", UINT64_MAX, 0));
  s.deadline = RUNVM_TRY(fields::opt_bounded(v, "deadline", UINT64_MAX, 0));
  s.period = RUNVM_TRY(fields::opt_bounded(v, "period", UINT64_MAX, 0));
  return s;
}

void write_capabilities(json::Writer& w, const Capabilities& c) {
  w.begin_object();
  write_strings(w, "bounding", c.bounding);
  write_strings(w, "effective", c.effective);
  write_strings(w, "inheritable", c.inheritable);
  write_strings(w, "permitted", c.permitted);
  write_strings(w, "ambient", c.ambient);
  w.end_object();
}

Result<Capabilities> parse_capabilities(const json::Value& v) {
  Capabilities c;
  c.bounding = RUNVM_TRY(strings(v, "bounding"));
  c.effective = RUNVM_TRY(strings(v, "effective"));
  c.inheritable = RUNVM_TRY(strings(v, "inheritable"));
  c.permitted = RUNVM_TRY(strings(v, "permitted"));
  c.ambient = RUNVM_TRY(strings(v, "ambient"));
  return c;
}

void write_linux_spec(json::Writer& w, const LinuxSpec& l) {
  w.begin_object();
  w.key("domainname").string(l.domainname);
  w.key("mounts").begin_array();
  for (const auto& m : l.mounts) {
    w.begin_object();
    w.key("destination").string(m.destination);
    w.key("type").string(m.type);
    w.key("source").string(m.source);
    if (!m.share.empty()) w.key("share").string(m.share);
    write_strings(w, "options", m.options);
    w.end_object();
  }
  w.end_array();
  w.key("devices").begin_array();
  for (const auto& d : l.devices) {
    w.begin_object();
    w.key("type").string(d.type);
    w.key("path").string(d.path);
    w.key("major").uinteger(d.major);
    w.key("minor").uinteger(d.minor);
    w.key("file_mode").uinteger(d.file_mode);
    w.key("uid").uinteger(d.uid);
    w.key("gid").uinteger(d.gid);
    w.end_object();
  }
  w.end_array();
  w.key("rootfs_propagation").string(l.rootfs_propagation);
  if (l.pids_limit) w.key("pids_limit").integer(*l.pids_limit);
  if (l.memory_limit) w.key("memory_limit").uinteger(*l.memory_limit);
  if (l.cpu_quota) w.key("cpu_quota").integer(*l.cpu_quota);
  if (l.cpu_period) w.key("cpu_period").uinteger(*l.cpu_period);
  if (l.cpu_weight) w.key("cpu_weight").uinteger(*l.cpu_weight);
  w.key("hugepage_limits").begin_array();
  for (const auto& h : l.hugepage_limits) {
    w.begin_object();
    w.key("page_size").string(h.page_size);
    w.key("limit").uinteger(h.limit);
    w.end_object();
  }
  w.end_array();
  w.key("sysctl").begin_object();
  for (const auto& [k, v] : l.sysctl) w.key(k).string(v);
  w.end_object();
  if (l.seccomp) {
    w.key("seccomp");
    write_seccomp(w, *l.seccomp);
  }
  write_strings(w, "masked_paths", l.masked_paths);
  write_strings(w, "readonly_paths", l.readonly_paths);
  if (l.new_pid_ns) w.key("new_pid_namespace").boolean(true);
  w.end_object();
}

Result<LinuxSpec> parse_linux_spec(const json::Value& v) {
  LinuxSpec l;
  l.domainname = RUNVM_TRY(fields::opt_string(v, "domainname"));
  if (l.domainname.size() > 64) return RUNVM_TRY(v.at("domainname")).error("too long");
  l.mounts = RUNVM_TRY(objects<Mount>(v, "mounts", parse_mount));
  l.devices = RUNVM_TRY(objects<Device>(v, "devices", parse_device));
  if (auto p = RUNVM_TRY(v.get("rootfs_propagation"))) {
    l.rootfs_propagation = RUNVM_TRY(p->as_string());
    if (std::find(std::begin(kPropagations), std::end(kPropagations), l.rootfs_propagation) ==
        std::end(kPropagations))
      return p->error("unknown propagation");
  }
  if (auto p = RUNVM_TRY(v.get("pids_limit"))) l.pids_limit = RUNVM_TRY(p->as_int());
  if (auto p = RUNVM_TRY(v.get("memory_limit"))) {
    l.memory_limit = RUNVM_TRY(fields::bounded(*p, INT64_MAX));
    if (*l.memory_limit == 0) return p->error("must be positive");
  }
  if (auto p = RUNVM_TRY(v.get("cpu_quota"))) l.cpu_quota = RUNVM_TRY(p->as_int());
  // The kernel's bounds for cpu.max's period and cpu.weight.
  if (auto p = RUNVM_TRY(v.get("cpu_period"))) {
    l.cpu_period = RUNVM_TRY(fields::bounded(*p, 1000000));
    if (*l.cpu_period < 1000) return p->error("must be between 1000 and 1000000");
  }
  if (auto p = RUNVM_TRY(v.get("cpu_weight"))) {
    l.cpu_weight = RUNVM_TRY(fields::bounded(*p, 10000));
    if (*l.cpu_weight == 0) return p->error("must be between 1 and 10000");
  }
  l.hugepage_limits = RUNVM_TRY(objects<HugepageLimit>(v, "hugepage_limits", parse_hugepage_limit));
  if (auto sysctl = RUNVM_TRY(v.get("sysctl"))) {
    auto members = RUNVM_TRY(sysctl->as_object());
    if (members.size() > kMaxListItems) return sysctl->error("too many keys");
    for (const auto& [key, value] : members) l.sysctl[key] = RUNVM_TRY(value.as_string());
  }
  if (auto s = RUNVM_TRY(v.get("seccomp"))) l.seccomp = RUNVM_TRY(parse_seccomp(*s));
  l.masked_paths = RUNVM_TRY(strings(v, "masked_paths"));
  l.readonly_paths = RUNVM_TRY(strings(v, "readonly_paths"));
  for (const auto* paths : {&l.masked_paths, &l.readonly_paths})
    for (const auto& p : *paths)
      if (!absolute(p)) return make_error(v.path() + ": paths must be absolute: \"" + p + "\"");
  l.new_pid_ns = RUNVM_TRY(fields::opt_bool(v, "new_pid_namespace", false));
  return l;
}

}  // namespace runvm::proto
