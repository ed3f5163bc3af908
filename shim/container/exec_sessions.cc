#include "shim/container/exec_sessions.h"

#include <signal.h>
#include <unistd.h>

#include "spec/base/log.h"

namespace runvm {
namespace {

void log_failure(const std::string& what, const AgentClient::Reply& r) {
  if (!r.status.ok()) log::debug(what + ": " + r.status.error().message);
}

}  // namespace

ExecSessions::~ExecSessions() { end_all(SIGKILL); }

void ExecSessions::open(UniqueFd conn, control::Exec req) {
  proto::Exec exec;
  exec.container_id = container_id_;
  exec.exec_id = "exec-" + std::to_string(next_++);
  exec.process = std::move(req.process);
  exec.stdio = req.stdio;
  std::string exec_id = exec.exec_id;
  auto session = std::make_unique<Session>();
  session->conn = std::move(conn);
  sessions_.emplace(exec_id, std::move(session));
  // The agent's reply may come after this container ended (the session is
  // gone then) or after this object was destroyed (alive_ tells).
  std::weak_ptr<bool> alive = alive_;
  agent_.exec(std::move(exec), [this, alive, exec_id](AgentClient::Reply r) {
    if (!alive.expired()) on_started(exec_id, std::move(r));
  });
}

void ExecSessions::on_started(const std::string& exec_id, AgentClient::Reply r) {
  auto it = sessions_.find(exec_id);
  if (it == sessions_.end()) return;  // ended meanwhile: its client was told
  Session& s = *it->second;
  // runc's wording for a process that did not start, as for the container's
  // own; the agent's exit_code (127, 126) as it sent it.
  control::ExecReply reply{std::move(r.status).context("unable to start container process"),
                           std::nullopt};
  if (!reply.status.ok() && r.exit_code && *r.exit_code <= 255)
    reply.exit_code = static_cast<int>(*r.exit_code);
  auto sent = proto::write_frame(s.conn.get(), control::encode(reply));
  if (!reply.status.ok() || !sent.ok()) {
    // Without a listener the exit has nowhere to go; the process runs on.
    if (reply.status.ok()) log::debug("exec " + exec_id + ": client left before the reply");
    sessions_.erase(it);
    return;
  }
  if (s.early_exit) return report_exit(exec_id, static_cast<int>(*s.early_exit));
  s.started = true;
  auto added =
      loop_.add(s.conn.get(), EPOLLIN, [this, exec_id](uint32_t) { on_readable(exec_id); });
  if (!added.ok()) log::debug("exec " + exec_id + ": " + added.error().message);
}

void ExecSessions::on_readable(const std::string& exec_id) {
  auto it = sessions_.find(exec_id);
  if (it == sessions_.end()) return;
  Session& s = *it->second;
  char buf[4096];
  ssize_t n = read(s.conn.get(), buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
  Status fed = n > 0 ? s.decoder.feed(std::string_view(buf, static_cast<size_t>(n)))
                     : Status(make_error("client left"));
  std::weak_ptr<bool> alive = alive_;
  while (fed.ok()) {
    auto frame = s.decoder.next();
    if (!frame.ok()) fed = std::move(frame).error();
    if (!fed.ok() || !*frame) break;
    handle_follow_up(exec_id, **frame);
    if (alive.expired() || !sessions_.count(exec_id)) return;
  }
  // The client is gone or broke the framing: the process runs on, unreported.
  if (!fed.ok()) {
    log::debug("exec " + exec_id + ": " + fed.error().message);
    loop_.remove(s.conn.get());
    sessions_.erase(exec_id);
  }
}

void ExecSessions::handle_follow_up(const std::string& exec_id, std::string_view body) {
  auto req = control::parse_exec_follow_up(body);
  if (!req.ok()) return log::debug("exec " + exec_id + ": " + req.error().message);
  std::visit([&](const auto& m) { follow_up(exec_id, m); }, *req);
}

void ExecSessions::follow_up(const std::string& exec_id, const control::Kill& k) {
  agent_.signal(container_id_, exec_id, k.signal, false,
                [exec_id](AgentClient::Reply r) { log_failure("exec " + exec_id + ": kill", r); });
}

void ExecSessions::follow_up(const std::string& exec_id, const control::Resize& r) {
  agent_.resize(container_id_, exec_id, r.rows, r.cols, [exec_id](AgentClient::Reply reply) {
    log_failure("exec " + exec_id + ": resize", reply);
  });
}

void ExecSessions::on_exit(const proto::ExecExit& exit) {
  auto it = sessions_.find(exit.exec_id);
  if (it == sessions_.end()) return;  // its client left
  if (!it->second->started) {
    // The agent reaped it before its reply reached us: report after it.
    it->second->early_exit = exit.status;
    return;
  }
  report_exit(exit.exec_id, static_cast<int>(exit.status));
}

void ExecSessions::report_exit(const std::string& exec_id, int wait_status) {
  auto it = sessions_.find(exec_id);
  if (it == sessions_.end()) return;
  loop_.remove(it->second->conn.get());
  (void)proto::write_frame(it->second->conn.get(), control::encode(control::ExecExit{wait_status}));
  sessions_.erase(it);
}

void ExecSessions::end_all(int wait_status) {
  for (auto& [id, s] : sessions_) {
    loop_.remove(s->conn.get());
    // One still being set up is refused as an exec in a stopped container.
    std::string frame = s->started
                            ? control::encode(control::ExecExit{wait_status})
                            : control::encode(control::ExecReply{
                                  make_error("cannot exec in a stopped container"), std::nullopt});
    (void)proto::write_frame(s->conn.get(), frame);
  }
  sessions_.clear();
}

}  // namespace runvm
