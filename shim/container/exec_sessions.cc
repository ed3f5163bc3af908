#include "shim/container/exec_sessions.h"

#include <signal.h>
#include <unistd.h>

#include "spec/base/log.h"

namespace runvm {

ExecSessions::~ExecSessions() { end_all(SIGKILL); }

void ExecSessions::open(UniqueFd conn, control::Exec req) {
  proto::Exec exec;
  exec.container_id = container_id_;
  exec.exec_id = "exec-" + std::to_string(next_++);
  exec.process = std::move(req.process);
  exec.stdio = req.stdio;
  std::string exec_id = exec.exec_id;
  // runc's wording for a process that did not start, as for the container's
  // own (ContainerShim::boot).
  Status started = agent_.exec(std::move(exec)).context("unable to start container process");
  // AgentClient folds the agent's exit_code 127/126 into ENOENT/EACCES.
  control::ExecReply reply{started, std::nullopt};
  if (!started.ok() && started.error().code == ENOENT) reply.exit_code = 127;
  if (!started.ok() && started.error().code == EACCES) reply.exit_code = 126;
  auto sent = proto::write_frame(conn.get(), control::encode(reply));
  if (!reply.status.ok()) return;
  // Without a listener the exit has nowhere to go; the process runs on.
  if (!sent.ok()) return log::debug("exec: client left before the reply");
  sessions_.emplace(exec_id, Session{std::move(conn), proto::FrameDecoder(64 * 1024)});
}

void ExecSessions::append_pollfds(std::vector<pollfd>& fds) const {
  for (const auto& [id, s] : sessions_) fds.push_back({s.conn.get(), POLLIN, 0});
}

void ExecSessions::on_ready(int fd) {
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    Session& s = it->second;
    if (s.conn.get() != fd) continue;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);  // poll said readable: does not block
    if (n < 0 && errno == EINTR) return;
    Status fed = n > 0 ? s.decoder.feed(std::string_view(buf, static_cast<size_t>(n)))
                       : Status(make_error("client left"));
    while (fed.ok()) {
      auto frame = s.decoder.next();
      if (!frame.ok()) fed = std::move(frame).error();
      if (!fed.ok() || !*frame) break;
      handle_client_request(it->first, **frame);
    }
    // The client is gone or broke the framing: the process runs on, unreported.
    if (!fed.ok()) {
      log::debug("exec " + it->first + ": " + fed.error().message);
      sessions_.erase(it);
    }
    return;
  }
}

void ExecSessions::handle_client_request(const std::string& exec_id, std::string_view body) {
  auto req = control::parse_exec_follow_up(body);
  Status done = !req.ok() ? Status(std::move(req).error())
                          : std::visit([&](const auto& m) { return follow_up(exec_id, m); }, *req);
  if (!done.ok()) log::debug("exec " + exec_id + ": " + done.error().message);
}

Status ExecSessions::follow_up(const std::string& exec_id, const control::Kill& k) {
  return agent_.signal_exec(container_id_, exec_id, k.signal);
}

Status ExecSessions::follow_up(const std::string& exec_id, const control::Resize& r) {
  return agent_.resize_exec(container_id_, exec_id, r.rows, r.cols);
}

void ExecSessions::deliver_exits() {
  while (auto exit = agent_.take_exec_exit()) {
    auto it = sessions_.find(exit->exec_id);
    if (it == sessions_.end()) continue;  // its client left
    (void)proto::write_frame(it->second.conn.get(),
                             control::encode(control::ExecExit{static_cast<int>(exit->status)}));
    sessions_.erase(it);
  }
}

void ExecSessions::end_all(int wait_status) {
  deliver_exits();
  for (auto& [id, s] : sessions_)
    (void)proto::write_frame(s.conn.get(), control::encode(control::ExecExit{wait_status}));
  sessions_.clear();
}

}  // namespace runvm
