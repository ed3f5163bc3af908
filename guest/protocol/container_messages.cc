#include "guest/protocol/container_messages.h"

#include <limits>

#include "guest/protocol/exec_messages.h"
#include "guest/protocol/fields.h"

namespace runvm::proto {
namespace {

constexpr uint64_t kU16Max = std::numeric_limits<uint16_t>::max();
constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();

}  // namespace

Result<std::string> parse_id(const json::Value& v, std::string_view key) {
  json::Value field = RUNVM_TRY(v.at(key));
  std::string id = RUNVM_TRY(field.as_string());
  if (!valid_container_id(id)) return field.error("must match [A-Za-z0-9_+.-]+ (at most 256)");
  return id;
}

Result<uint32_t> parse_wait_status(const json::Value& v) {
  return static_cast<uint32_t>(RUNVM_TRY(fields::bounded(RUNVM_TRY(v.at("status")), 0xffff)));
}

namespace {

Result<Rootfs> parse_rootfs(const json::Value& v) {
  Rootfs r;
  r.tag = RUNVM_TRY(fields::string(v, "tag"));
  if (r.tag.empty()) return RUNVM_TRY(v.at("tag")).error("must not be empty");
  r.readonly = RUNVM_TRY(fields::opt_bool(v, "readonly", false));
  r.path = RUNVM_TRY(fields::opt_string(v, "path", ""));
  // One name under the share's top: never "..", never a path elsewhere.
  if (!r.path.empty() && !valid_container_id(r.path))
    return RUNVM_TRY(v.at("path")).error("must be one name ([A-Za-z0-9_+.-]+, not . or ..)");
  return r;
}

Result<User> parse_user(const json::Value& v) {
  User u;
  u.uid = RUNVM_TRY(fields::u32(v, "uid"));
  u.gid = RUNVM_TRY(fields::u32(v, "gid"));
  u.umask = static_cast<uint32_t>(RUNVM_TRY(fields::opt_bounded(v, "umask", 0777, 0022)));
  if (auto gids = RUNVM_TRY(v.get("additional_gids"))) {
    auto items = RUNVM_TRY(gids->as_array());
    if (items.size() > kMaxGroups)
      return gids->error("at most " + std::to_string(kMaxGroups) + " items");
    for (const auto& g : items)
      u.additional_gids.push_back(static_cast<uint32_t>(RUNVM_TRY(fields::bounded(g, kU32Max))));
  }
  return u;
}

Result<Rlimit> parse_rlimit(const json::Value& v) {
  Rlimit r;
  r.type = RUNVM_TRY(fields::string(v, "type"));
  r.soft = RUNVM_TRY(fields::u64(v, "soft"));
  r.hard = RUNVM_TRY(fields::u64(v, "hard"));
  return r;
}

}  // namespace

Result<Process> parse_process(const json::Value& v) {
  Process p;
  p.terminal = RUNVM_TRY(fields::opt_bool(v, "terminal", false));
  p.args = RUNVM_TRY(fields::opt_strings(v, "args", kMaxArgs));
  if (p.args.empty() || p.args[0].empty())
    return make_error((v.path().empty() ? "" : v.path() + ".") + "args: must not be empty");
  p.env = RUNVM_TRY(fields::opt_strings(v, "env", kMaxArgs));
  p.cwd = RUNVM_TRY(fields::opt_string(v, "cwd", "/"));
  if (p.cwd.empty() || p.cwd[0] != '/') return RUNVM_TRY(v.at("cwd")).error("must be absolute");
  if (auto user = RUNVM_TRY(v.get("user"))) p.user = RUNVM_TRY(parse_user(*user));
  if (auto rlimits = RUNVM_TRY(v.get("rlimits"))) {
    for (const auto& r : RUNVM_TRY(rlimits->as_array()))
      p.rlimits.push_back(RUNVM_TRY(parse_rlimit(r)));
  }
  p.no_new_privileges = RUNVM_TRY(fields::opt_bool(v, "no_new_privileges", false));
  if (auto size = RUNVM_TRY(v.get("console_size"))) {
    ConsoleSize c;
    c.rows =
        static_cast<uint16_t>(RUNVM_TRY(fields::bounded(RUNVM_TRY(size->at("rows")), kU16Max)));
    c.cols =
        static_cast<uint16_t>(RUNVM_TRY(fields::bounded(RUNVM_TRY(size->at("cols")), kU16Max)));
    p.console_size = c;
  }
  if (auto caps = RUNVM_TRY(v.get("capabilities")))
    p.capabilities = RUNVM_TRY(proto::parse_capabilities(*caps));
  if (auto oom = RUNVM_TRY(v.get("oom_score_adj"))) {
    int64_t n = RUNVM_TRY(oom->as_int());
    if (n < -1000 || n > 1000) return oom->error("must be in -1000..1000");
    p.oom_score_adj = static_cast<int32_t>(n);
  }
  if (auto io = RUNVM_TRY(v.get("io_priority"))) p.io_priority = RUNVM_TRY(parse_io_priority(*io));
  if (auto s = RUNVM_TRY(v.get("scheduler"))) p.scheduler = RUNVM_TRY(parse_scheduler(*s));
  return p;
}

std::string_view stdio_kind_name(StdioKind k) {
  switch (k) {
    case StdioKind::kPipe:
      return "pipe";
    case StdioKind::kSocket:
      return "socket";
    case StdioKind::kTty:
      return "tty";
    case StdioKind::kFile:
      return "file";
    case StdioKind::kAppendFile:
      return "append_file";
  }
  return "pipe";
}

namespace {

// One stream's "<name>_port" and "<name>_kind" (absent: a pipe).
Status parse_stream(const json::Value& v, const std::string& name, uint32_t& port,
                    StdioKind& kind) {
  port = static_cast<uint32_t>(RUNVM_TRY(fields::opt_bounded(v, name + "_port", kU32Max, 0)));
  auto field = RUNVM_TRY(v.get(name + "_kind"));
  if (!field) return {};
  std::string text = RUNVM_TRY(field->as_string());
  for (StdioKind k : {StdioKind::kPipe, StdioKind::kSocket, StdioKind::kTty, StdioKind::kFile,
                      StdioKind::kAppendFile})
    if (text == stdio_kind_name(k)) {
      kind = k;
      return {};
    }
  return field->error("must be pipe, socket, tty, file or append_file");
}

}  // namespace

Result<StdioPorts> parse_stdio(const json::Value& v) {
  StdioPorts s;
  RUNVM_CHECK(parse_stream(v, "stdin", s.stdin_port, s.stdin_kind));
  RUNVM_CHECK(parse_stream(v, "stdout", s.stdout_port, s.stdout_kind));
  RUNVM_CHECK(parse_stream(v, "stderr", s.stderr_port, s.stderr_kind));
  return s;
}

namespace {

void write_strings(json::Writer& w, std::string_view key, const std::vector<std::string>& items) {
  w.key(key).begin_array();
  for (const auto& s : items) w.string(s);
  w.end_array();
}

}  // namespace

bool valid_container_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxContainerIdLength || id == "." || id == "..") return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void write_process(json::Writer& w, const Process& p) {
  w.begin_object();
  w.key("terminal").boolean(p.terminal);
  write_strings(w, "args", p.args);
  write_strings(w, "env", p.env);
  w.key("cwd").string(p.cwd);
  w.key("user").begin_object();
  w.key("uid").uinteger(p.user.uid);
  w.key("gid").uinteger(p.user.gid);
  w.key("umask").uinteger(p.user.umask);
  w.key("additional_gids").begin_array();
  for (uint32_t g : p.user.additional_gids) w.uinteger(g);
  w.end_array();
  w.end_object();
  w.key("rlimits").begin_array();
  for (const auto& r : p.rlimits) {
    w.begin_object();
    w.key("type").string(r.type);
    w.key("soft").uinteger(r.soft);
    w.key("hard").uinteger(r.hard);
    w.end_object();
  }
  w.end_array();
  w.key("no_new_privileges").boolean(p.no_new_privileges);
  if (p.console_size) {
    w.key("console_size").begin_object();
    w.key("rows").uinteger(p.console_size->rows);
    w.key("cols").uinteger(p.console_size->cols);
    w.end_object();
  }
  if (p.capabilities) {
    w.key("capabilities");
    write_capabilities(w, *p.capabilities);
  }
  if (p.oom_score_adj) w.key("oom_score_adj").integer(*p.oom_score_adj);
  if (p.io_priority) {
    w.key("io_priority");
    write_io_priority(w, *p.io_priority);
  }
  if (p.scheduler) {
    w.key("scheduler");
    write_scheduler(w, *p.scheduler);
  }
  w.end_object();
}

void write_stdio(json::Writer& w, const StdioPorts& s) {
  w.begin_object();
  w.key("stdin_port").uinteger(s.stdin_port);
  w.key("stdout_port").uinteger(s.stdout_port);
  w.key("stderr_port").uinteger(s.stderr_port);
  w.key("stdin_kind").string(stdio_kind_name(s.stdin_kind));
  w.key("stdout_kind").string(stdio_kind_name(s.stdout_kind));
  w.key("stderr_kind").string(stdio_kind_name(s.stderr_kind));
  w.end_object();
}

Status parse_process_stdio(const json::Value& v, Process& process, StdioPorts& stdio) {
  process = RUNVM_TRY(parse_process(RUNVM_TRY(v.at("process"))));
  if (auto field = RUNVM_TRY(v.get("stdio"))) stdio = RUNVM_TRY(parse_stdio(*field));
  return {};
}

void write_process_stdio(json::Writer& w, const Process& process, const StdioPorts& stdio) {
  w.key("process");
  write_process(w, process);
  w.key("stdio");
  write_stdio(w, stdio);
}

void Create::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("container_id").string(container_id);
  w.key("rootfs").begin_object();
  w.key("tag").string(rootfs.tag);
  w.key("readonly").boolean(rootfs.readonly);
  if (!rootfs.path.empty()) w.key("path").string(rootfs.path);
  w.end_object();
  w.key("hostname").string(hostname);
  write_process_stdio(w, process, stdio);
  w.key("linux");
  write_linux_spec(w, linux_spec);
  if (ends_vm) w.key("ends_vm").boolean(true);
}

Result<Create> Create::parse(const json::Value& v) {
  Create m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.container_id = RUNVM_TRY(parse_container_id(v));
  m.rootfs = RUNVM_TRY(parse_rootfs(RUNVM_TRY(v.at("rootfs"))));
  m.hostname = RUNVM_TRY(fields::opt_string(v, "hostname"));
  if (m.hostname.size() > kMaxHostnameLength) return RUNVM_TRY(v.at("hostname")).error("too long");
  RUNVM_CHECK(parse_process_stdio(v, m.process, m.stdio));
  if (auto lx = RUNVM_TRY(v.get("linux"))) m.linux_spec = RUNVM_TRY(parse_linux_spec(*lx));
  m.ends_vm = RUNVM_TRY(fields::opt_bool(v, "ends_vm", false));
  return m;
}

void Signal::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("container_id").string(container_id);
  w.key("signal").uinteger(signal);
  w.key("all").boolean(all);
  if (!exec_id.empty()) w.key("exec_id").string(exec_id);
}
Result<Signal> Signal::parse(const json::Value& v) {
  Signal m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.container_id = RUNVM_TRY(parse_container_id(v));
  json::Value sig = RUNVM_TRY(v.at("signal"));
  m.signal = static_cast<uint32_t>(RUNVM_TRY(fields::bounded(sig, kMaxSignal)));
  if (m.signal == 0) return sig.error("must be at least 1");
  m.all = RUNVM_TRY(fields::opt_bool(v, "all", false));
  m.exec_id = RUNVM_TRY(parse_opt_exec_id(v));
  return m;
}

void Resize::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("container_id").string(container_id);
  w.key("rows").uinteger(rows);
  w.key("cols").uinteger(cols);
  if (!exec_id.empty()) w.key("exec_id").string(exec_id);
}
Result<Resize> Resize::parse(const json::Value& v) {
  Resize m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.container_id = RUNVM_TRY(parse_container_id(v));
  m.rows = static_cast<uint16_t>(RUNVM_TRY(fields::bounded(RUNVM_TRY(v.at("rows")), kU16Max)));
  m.cols = static_cast<uint16_t>(RUNVM_TRY(fields::bounded(RUNVM_TRY(v.at("cols")), kU16Max)));
  m.exec_id = RUNVM_TRY(parse_opt_exec_id(v));
  return m;
}

void UpdateMemory::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("container_id").string(container_id);
  w.key("limit").uinteger(limit);
  w.key("guest_ram").uinteger(guest_ram);
}
Result<UpdateMemory> UpdateMemory::parse(const json::Value& v) {
  // Past any guest's RAM; keeps the arithmetic on them far from overflow.
  constexpr uint64_t kMaxBytes = 1ull << 50;
  UpdateMemory m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.container_id = RUNVM_TRY(parse_container_id(v));
  m.limit = RUNVM_TRY(fields::bounded(RUNVM_TRY(v.at("limit")), kMaxBytes));
  m.guest_ram = RUNVM_TRY(fields::bounded(RUNVM_TRY(v.at("guest_ram")), kMaxBytes));
  if (m.guest_ram < (1ull << 20)) return make_error("guest_ram: must be at least 1 MiB");
  return m;
}

void UpdateResources::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("container_id").string(container_id);
  if (cpu_quota) w.key("cpu_quota").integer(*cpu_quota);
  if (cpu_period) w.key("cpu_period").uinteger(*cpu_period);
  if (cpu_weight) w.key("cpu_weight").uinteger(*cpu_weight);
  if (pids_limit) w.key("pids_limit").integer(*pids_limit);
}
Result<UpdateResources> UpdateResources::parse(const json::Value& v) {
  constexpr int64_t kMaxQuota = 1ll << 40;
  constexpr int64_t kMaxPids = 1ll << 22;  // PID_MAX_LIMIT
  UpdateResources m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.container_id = RUNVM_TRY(parse_container_id(v));
  if (auto f = RUNVM_TRY(v.get("cpu_quota"))) {
    int64_t q = RUNVM_TRY(f->as_int());
    if (q > kMaxQuota || (q > 0 && q < 1000))
      return f->error("must be at most 0 (no limit) or between 1000 and 2^40");
    m.cpu_quota = q <= 0 ? -1 : q;
  }
  if (auto f = RUNVM_TRY(v.get("cpu_period"))) {
    m.cpu_period = RUNVM_TRY(fields::bounded(*f, 1000000));
    if (*m.cpu_period < 1000) return f->error("must be between 1000 and 1000000");
  }
  if (auto f = RUNVM_TRY(v.get("cpu_weight"))) {
    m.cpu_weight = RUNVM_TRY(fields::bounded(*f, 10000));
    if (*m.cpu_weight == 0) return f->error("must be between 1 and 10000");
  }
  if (auto f = RUNVM_TRY(v.get("pids_limit"))) {
    int64_t n = RUNVM_TRY(f->as_int());
    if (n > kMaxPids) return f->error("must be at most 2^22");
    m.pids_limit = n <= 0 ? -1 : n;
  }
  if (!m.cpu_quota && !m.cpu_period && !m.cpu_weight && !m.pids_limit)
    return make_error("update_resources: nothing to update");
  return m;
}

void Exit::write(json::Writer& w) const {
  w.key("container_id").string(container_id);
  w.key("status").uinteger(status);
  if (oom_kills) w.key("oom_kills").uinteger(oom_kills);
}
Result<Exit> Exit::parse(const json::Value& v) {
  Exit m;
  m.container_id = RUNVM_TRY(parse_container_id(v));
  m.status = RUNVM_TRY(parse_wait_status(v));
  m.oom_kills =
      static_cast<uint32_t>(RUNVM_TRY(fields::opt_bounded(v, "oom_kills", UINT32_MAX, 0)));
  return m;
}

}  // namespace runvm::proto
