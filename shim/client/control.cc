#include "shim/client/control.h"

#include <poll.h>

#include "guest/protocol/fields.h"
#include "guest/protocol/frame.h"
#include "guest/protocol/messages.h"
#include "spec/base/unix_socket.h"

namespace runvm::control {
namespace {

// Tries each alternative of Variant whose kType equals `op`.
template <class Variant, size_t I = 0>
Result<Variant> parse_as(std::string_view op, const json::Value& root) {
  if constexpr (I == std::variant_size_v<Variant>) {
    return make_error("op: unknown request \"" + proto::printable(op, 64) + "\"");
  } else {
    using M = std::variant_alternative_t<I, Variant>;
    if (op == M::kType) return Variant(RUNVM_TRY(M::parse(root)));
    return parse_as<Variant, I + 1>(op, root);
  }
}

Result<json::Document> parse_object(std::string_view text) {
  auto doc = RUNVM_TRY(json::Document::parse(text));
  if (!doc.root().is_object()) return make_error("message must be a JSON object");
  return doc;
}

template <class Variant>
Result<Variant> parse_op(std::string_view text) {
  auto doc = RUNVM_TRY(parse_object(text));
  std::string op = RUNVM_TRY(RUNVM_TRY(doc.root().at("op")).as_string());
  return parse_as<Variant>(op, doc.root());
}

// {"ok":..,"error":..}: the status part of both replies.
Result<Status> parse_status(const json::Value& root, std::string_view refused) {
  if (RUNVM_TRY(RUNVM_TRY(root.at("ok")).as_bool())) return Status{};
  auto err = RUNVM_TRY(root.get("error"));
  return Status(make_error(err ? RUNVM_TRY(err->as_string()) : std::string(refused)));
}

// Connects, sends `body`, waits up to timeout_ms for the first reply frame.
Result<std::pair<UniqueFd, std::string>> exchange(const std::string& socket_path,
                                                  const std::string& body, int timeout_ms) {
  auto connected = connect_unix(socket_path);
  if (!connected.ok()) {
    if (connected.error().code == ENAMETOOLONG) return std::move(connected).error();
    return errno_error("connect to the container's shim", connected.error().code);
  }
  UniqueFd fd = std::move(*connected);
  RUNVM_CHECK(proto::write_frame(fd.get(), body));
  pollfd p{fd.get(), POLLIN, 0};
  int n;
  do {
    n = poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("poll");
  if (n == 0) return make_error("the container's shim did not answer", ETIMEDOUT);
  auto reply = RUNVM_TRY(proto::read_frame(fd.get()));
  if (!reply) return make_error("the container's shim closed the connection", ECONNRESET);
  return std::pair(std::move(fd), std::move(*reply));
}

}  // namespace

void Kill::write(json::Writer& w) const { w.key("signal").integer(signal).key("all").boolean(all); }
Result<Kill> Kill::parse(const json::Value& v) {
  auto field = RUNVM_TRY(v.at("signal"));
  int64_t sig = RUNVM_TRY(field.as_int());
  if (sig <= 0 || sig > proto::kMaxSignal) return field.error("out of range");
  Kill k{static_cast<int>(sig), false};
  if (auto all = RUNVM_TRY(v.get("all"))) k.all = RUNVM_TRY(all->as_bool());
  return k;
}

void Resize::write(json::Writer& w) const {
  w.key("rows").uinteger(rows).key("cols").uinteger(cols);
}
Result<Resize> Resize::parse(const json::Value& v) {
  Resize r;
  for (auto [key, out] : {std::pair{"rows", &r.rows}, std::pair{"cols", &r.cols}}) {
    auto field = RUNVM_TRY(v.at(key));
    uint64_t n = RUNVM_TRY(field.as_uint());
    if (n > 0xffff) return field.error("out of range");
    *out = static_cast<uint16_t>(n);
  }
  return r;
}

void UpdateMemory::write(json::Writer& w) const { w.key("limit").uinteger(limit); }
Result<UpdateMemory> UpdateMemory::parse(const json::Value& v) {
  auto field = RUNVM_TRY(v.at("limit"));
  uint64_t n = RUNVM_TRY(field.as_uint());
  if (n == 0 || n > (1ull << 50)) return field.error("out of range");
  return UpdateMemory{n};
}

void UpdateResources::write(json::Writer& w) const {
  if (cpu_quota) w.key("cpu_quota").integer(*cpu_quota);
  if (cpu_period) w.key("cpu_period").uinteger(*cpu_period);
  if (cpu_shares) w.key("cpu_shares").uinteger(*cpu_shares);
  if (pids_limit) w.key("pids_limit").integer(*pids_limit);
  if (!cpus.empty()) w.key("cpus").string(cpus);
}
Result<UpdateResources> UpdateResources::parse(const json::Value& v) {
  UpdateResources u;
  if (auto f = RUNVM_TRY(v.get("cpu_quota"))) {
    int64_t q = RUNVM_TRY(f->as_int());
    if (q > (1ll << 40) || (q > 0 && q < 1000)) return f->error("out of range");
    u.cpu_quota = q <= 0 ? -1 : q;
  }
  if (auto f = RUNVM_TRY(v.get("cpu_period"))) {
    u.cpu_period = RUNVM_TRY(f->as_uint());
    if (*u.cpu_period < 1000 || *u.cpu_period > 1000000) return f->error("out of range");
  }
  if (auto f = RUNVM_TRY(v.get("cpu_shares"))) {
    u.cpu_shares = RUNVM_TRY(f->as_uint());
    if (*u.cpu_shares < 2 || *u.cpu_shares > 262144) return f->error("out of range");
  }
  if (auto f = RUNVM_TRY(v.get("pids_limit"))) {
    int64_t n = RUNVM_TRY(f->as_int());
    if (n > (1ll << 22)) return f->error("out of range");
    u.pids_limit = n <= 0 ? -1 : n;
  }
  if (auto f = RUNVM_TRY(v.get("cpus"))) {
    u.cpus = RUNVM_TRY(f->as_string());
    // A cpuset list: digits, '-' and ','; the shim parses it fully.
    if (u.cpus.empty() || u.cpus.size() > 1024 ||
        u.cpus.find_first_not_of("0123456789-,") != std::string::npos)
      return f->error("not a CPU list");
  }
  if (!u.cpu_quota && !u.cpu_period && !u.cpu_shares && !u.pids_limit && u.cpus.empty())
    return make_error("update_resources: nothing to update");
  return u;
}

void Exec::write(json::Writer& w) const {
  w.key("process");
  proto::write_process(w, process);
  w.key("stdio");
  proto::write_stdio(w, stdio);
}
void Create::write(json::Writer& w) const {
  w.key("bundle").string(bundle);
  w.key("state_dir").string(state_dir);
  w.key("stdio");
  proto::write_stdio(w, stdio);
  if (start) w.key("start").boolean(true);
}

Result<Create> Create::parse(const json::Value& v) {
  Create c;
  c.bundle = RUNVM_TRY(proto::fields::string(v, "bundle"));
  c.state_dir = RUNVM_TRY(proto::fields::string(v, "state_dir"));
  for (const std::string* path : {&c.bundle, &c.state_dir})
    if (path->empty() || (*path)[0] != '/' || path->size() > 4096 ||
        path->find('\0') != std::string::npos)
      return make_error("bundle and state_dir: must be absolute paths", EINVAL);
  c.stdio = RUNVM_TRY(proto::parse_stdio(RUNVM_TRY(v.at("stdio"))));
  c.start = RUNVM_TRY(proto::fields::opt_bool(v, "start", false));
  return c;
}

Result<Exec> Exec::parse(const json::Value& v) {
  Exec e;
  e.process = RUNVM_TRY(proto::parse_process(RUNVM_TRY(v.at("process"))));
  e.stdio = RUNVM_TRY(proto::parse_stdio(RUNVM_TRY(v.at("stdio"))));
  return e;
}

namespace {
// {"op":..,["container_id":..,]fields..}
std::string encode_request(const Request& r, const std::string* container_id) {
  json::Writer w;
  w.begin_object();
  std::visit(
      [&](const auto& m) {
        w.key("op").string(m.kType);
        if (container_id) w.key("container_id").string(*container_id);
        m.write(w);
      },
      r);
  w.end_object();
  return w.str();
}
}  // namespace

std::string encode(const Addressed& a) { return encode_request(a.request, &a.container_id); }
std::string encode(const Request& r) { return encode_request(r, nullptr); }

// A Reply is an ExecReply without a code (parse_exec_reply reads both).
std::string encode(const Reply& r) { return encode(ExecReply{r.status, std::nullopt}); }

std::string encode(const ExecReply& r) {
  json::Writer w;
  w.begin_object().key("ok").boolean(r.status.ok());
  if (!r.status.ok()) w.key("error").string(r.status.error().message);
  if (!r.status.ok() && r.exit_code) w.key("exit_code").integer(*r.exit_code);
  w.end_object();
  return w.str();
}

std::string encode(const ExecExit& e) {
  json::Writer w;
  w.begin_object().key("exit_status").integer(e.wait_status).end_object();
  return w.str();
}

Result<Addressed> parse_request(std::string_view json) {
  auto doc = RUNVM_TRY(parse_object(json));
  std::string op = RUNVM_TRY(RUNVM_TRY(doc.root().at("op")).as_string());
  Addressed a;
  a.request = RUNVM_TRY(parse_as<Request>(op, doc.root()));
  a.container_id = RUNVM_TRY(proto::parse_container_id(doc.root()));
  return a;
}

Result<ExecFollowUp> parse_exec_follow_up(std::string_view json) {
  return parse_op<ExecFollowUp>(json);
}

Result<Reply> parse_reply(std::string_view json) {
  auto doc = RUNVM_TRY(parse_object(json));
  return Reply{RUNVM_TRY(parse_status(doc.root(), "shim refused the request"))};
}

Result<ExecReply> parse_exec_reply(std::string_view json) {
  auto doc = RUNVM_TRY(parse_object(json));
  ExecReply r{RUNVM_TRY(parse_status(doc.root(), "shim refused the exec")), std::nullopt};
  if (r.status.ok()) return r;
  if (auto code = RUNVM_TRY(doc.root().get("exit_code"))) {
    int64_t n = RUNVM_TRY(code->as_int());
    if (n < 0 || n > 255) return code->error("must be 0..255");
    r.exit_code = static_cast<int>(n);
  }
  return r;
}

Result<ExecExit> parse_exec_exit(std::string_view json) {
  auto doc = RUNVM_TRY(parse_object(json));
  json::Value v = RUNVM_TRY(doc.root().at("exit_status"));
  int64_t n = RUNVM_TRY(v.as_int());
  if (n < 0 || n > 0xffff) return v.error("must be a wait status (0..65535)");
  return ExecExit{static_cast<int>(n)};
}

std::string encode(const StatsReply& r) {
  if (!r.status.ok()) return encode(Reply{r.status});
  json::Writer w;
  w.begin_object().key("ok").boolean(true).key("stats").begin_object();
  proto::write_stats_members(w, r.stats);
  w.end_object().end_object();
  return w.str();
}

Result<StatsReply> parse_stats_reply(std::string_view json) {
  auto doc = RUNVM_TRY(parse_object(json));
  StatsReply r{RUNVM_TRY(parse_status(doc.root(), "shim refused the stats")), {}};
  if (!r.status.ok()) return r;
  json::Value stats = RUNVM_TRY(doc.root().at("stats"));
  if (!stats.is_object()) return stats.error("must be an object");
  r.stats = RUNVM_TRY(proto::parse_stats_members(stats));
  return r;
}

Result<proto::ContainerStats> stats(const std::string& socket_path, const std::string& container_id,
                                    int timeout_ms) {
  auto [fd, body] = RUNVM_TRY(
      exchange(socket_path, encode(Addressed{container_id, Request(Stats{})}), timeout_ms));
  StatsReply r = RUNVM_TRY(parse_stats_reply(body));
  RUNVM_CHECK(r.status);
  return std::move(r.stats);
}

Status call(const std::string& socket_path, const std::string& container_id, const Request& r,
            int timeout_ms) {
  if (std::holds_alternative<Exec>(r)) return make_error("an exec needs open_exec", EINVAL);
  auto [fd, body] =
      RUNVM_TRY(exchange(socket_path, encode(Addressed{container_id, r}), timeout_ms));
  return RUNVM_TRY(parse_reply(body)).status;
}

Result<ExecSession> open_exec(const std::string& socket_path, const std::string& container_id,
                              const Exec& e, int timeout_ms) {
  auto [fd, body] =
      RUNVM_TRY(exchange(socket_path, encode(Addressed{container_id, Request(e)}), timeout_ms));
  ExecSession s{std::move(fd), RUNVM_TRY(parse_exec_reply(body))};
  return s;
}

Result<UniqueFd> open_member(const std::string& socket_path, const std::string& container_id,
                             const Create& c, int timeout_ms) {
  auto [fd, body] =
      RUNVM_TRY(exchange(socket_path, encode(Addressed{container_id, Request(c)}), timeout_ms));
  RUNVM_CHECK(RUNVM_TRY(parse_reply(body)).status);
  return std::move(fd);
}

}  // namespace runvm::control
