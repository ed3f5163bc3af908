#include "guest/agent/agent.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <algorithm>
#include <type_traits>
#include <variant>
#include <vector>

#include "guest/agent/network.h"

namespace runvm::agent {
namespace {

// Error text goes back to the host, which logs it: keep it tame.
proto::ErrorReply error_reply(uint64_t id, const Error& e) {
  return proto::ErrorReply{id, proto::printable(e.message)};
}

proto::AgentMessage status_reply(uint64_t id, const Status& st) {
  if (!st.ok()) return error_reply(id, st.error());
  return proto::Ok{id};
}

}  // namespace

Result<std::unique_ptr<Agent>> Agent::create(int control_fd, AgentConfig config) {
  auto loop = RUNVM_TRY(EventLoop::create());
  return std::unique_ptr<Agent>(new Agent(control_fd, std::move(config), std::move(loop)));
}

Status Agent::send_hello(const proto::Hello& hello) {
  return proto::write_frame(fd_, proto::to_json(hello)).context("sending hello");
}

Result<Agent::Outcome> Agent::serve() {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (pthread_sigmask(SIG_BLOCK, &chld, nullptr) != 0) return make_error("blocking SIGCHLD");
  UniqueFd sigfd(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) return errno_error("signalfd");

  outcome_.reset();
  RUNVM_CHECK(loop_->add(fd_, EPOLLIN, [this](uint32_t) { on_control_readable(); }));
  RUNVM_CHECK(loop_->add(sigfd.get(), EPOLLIN, [this, fd = sigfd.get()](uint32_t) {
    signalfd_siginfo info[8];
    while (::read(fd, info, sizeof info) > 0) {
    }
    reap_children();  // signals coalesce: reap whatever exited
  }));
  reap_children();  // children that exited before the signalfd existed
  while (!outcome_) {
    auto st = loop_->run_once(-1);
    if (!st.ok()) finish(std::move(st).error());
    std::erase_if(draining_, [](const auto& r) { return r->finished(); });
  }
  loop_->remove(fd_);
  loop_->remove(sigfd.get());
  return std::move(*outcome_);
}

void Agent::on_control_readable() {
  char buf[64 * 1024];
  ssize_t n;
  do {
    n = ::read(fd_, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return finish(errno_error("reading request"));
  if (n == 0) {
    if (decoder_.buffered() > 0) return finish(make_error("reading request: EOF inside a frame"));
    return finish(Outcome::kHostGone);
  }
  if (auto st = decoder_.feed(std::string_view(buf, static_cast<size_t>(n))); !st.ok())
    return finish(std::move(st).error().wrap("reading request"));
  for (;;) {
    auto frame = decoder_.next();
    if (!frame.ok()) return finish(std::move(frame).error().wrap("reading request"));
    if (!*frame) return;
    std::optional<std::string> reply;
    if (config_.extension) reply = config_.extension(**frame, config_.dial);
    bool shutdown = false;
    if (!reply) {
      Handled h = handle(**frame);
      reply = proto::to_json(h.reply);
      shutdown = h.shutdown;
    }
    if (auto st = proto::write_frame(fd_, *reply); !st.ok())
      return finish(std::move(st).error().wrap("sending reply"));
    if (shutdown) return finish(Outcome::kShutdown);
  }
}

void Agent::reap_children() {
  // We are init: orphans land here too. Only the main process is reported.
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    if (container_ && pid == container_->pid() && !container_->exited())
      container_->on_reaped(status);
    for (auto& [id, e] : execs_)
      if (pid == e->pid() && !e->exited()) e->on_reaped(status);
  }
  send_pending_exit();
}

void Agent::send_pending_exit() {
  for (auto it = execs_.begin(); it != execs_.end();) {
    auto exit = it->second->take_exit();
    if (!exit) {
      ++it;
      continue;
    }
    for (auto& r : it->second->release_relays()) draining_.push_back(std::move(r));
    it = execs_.erase(it);
    if (auto st = proto::write_frame(fd_, proto::to_json(*exit)); !st.ok())
      return finish(std::move(st).error().wrap("sending exec exit"));
  }
  if (!container_) return;
  if (auto exit = container_->take_exit()) {
    if (auto st = proto::write_frame(fd_, proto::to_json(*exit)); !st.ok())
      finish(std::move(st).error().wrap("sending exit"));
  }
}

Agent::Handled Agent::handle(std::string_view request) {
  auto parsed = proto::parse_host_message(request);
  if (!parsed.ok())
    return {error_reply(proto::salvage_id(request), parsed.error().wrap("bad request"))};
  return std::visit(
      [&](const auto& req) -> Handled {
        using T = std::decay_t<decltype(req)>;
        if constexpr (std::is_same_v<T, proto::Ping>) {
          return {proto::Pong{req.id}};
        } else if constexpr (std::is_same_v<T, proto::Shutdown>) {
          return {proto::Ok{req.id}, true};
        } else if constexpr (std::is_same_v<T, proto::Create>) {
          return {create_container(req)};
        } else if constexpr (std::is_same_v<T, proto::Start>) {
          return {start_container(req)};
        } else if constexpr (std::is_same_v<T, proto::Signal>) {
          return {signal_container(req)};
        } else if constexpr (std::is_same_v<T, proto::Resize>) {
          return {resize_container(req)};
        } else if constexpr (std::is_same_v<T, proto::Exec>) {
          return {exec_process(req)};
        } else if constexpr (std::is_same_v<T, proto::ConfigureNetwork>) {
          // The guest's own network: no container needed (PROTOCOL.md, Network).
          return {status_reply(req.id, configure_network(req.network))};
        } else {
          static_assert(sizeof(T) == 0, "unhandled host message");
        }
      },
      *parsed);
}

Result<Container*> Agent::find(std::string_view container_id) {
  if (!container_ || container_->id() != container_id)
    return make_error("container \"" + std::string(container_id) + "\" does not exist");
  return container_.get();
}

proto::AgentMessage Agent::create_container(const proto::Create& req) {
  if (container_ && (!container_->exited() || container_->id() == req.container_id))
    return error_reply(req.id, make_error("container with id exists: " + container_->id()));
  container_.reset();
  auto created =
      Container::create(req, config_.root, config_.dial, *loop_, [this] { send_pending_exit(); });
  if (auto* refusal = std::get_if<Container::Refusal>(&created)) {
    proto::ErrorReply e = error_reply(req.id, refusal->error);
    e.exit_code = refusal->exit_code;
    return e;
  }
  container_ = std::move(std::get<std::unique_ptr<Container>>(created));
  return proto::Ok{req.id};
}

proto::AgentMessage Agent::start_container(const proto::Start& req) {
  auto c = find(req.container_id);
  if (!c.ok()) return error_reply(req.id, c.error());
  return status_reply(req.id, (*c)->start());
}

proto::AgentMessage Agent::signal_container(const proto::Signal& req) {
  if (!req.exec_id.empty()) {
    auto e = find_exec(req.container_id, req.exec_id);
    if (!e.ok()) return error_reply(req.id, e.error());
    return status_reply(req.id, (*e)->signal(static_cast<int>(req.signal)));
  }
  auto c = find(req.container_id);
  if (!c.ok()) return error_reply(req.id, c.error());
  if (!req.all) return status_reply(req.id, (*c)->signal(static_cast<int>(req.signal)));
  // kill(-1) reaches every process but the caller and PID 1: as PID 1 that is
  // everything in the guest except the agent. Anywhere else it would hit
  // the whole machine the agent runs on.
  if (::getpid() != 1)
    return error_reply(req.id, make_error("signal to all processes needs the agent as PID 1"));
  if (::kill(-1, static_cast<int>(req.signal)) < 0 && errno != ESRCH)
    return error_reply(req.id, errno_error("kill(-1)"));
  return proto::Ok{req.id};
}

proto::AgentMessage Agent::resize_container(const proto::Resize& req) {
  if (!req.exec_id.empty()) {
    auto e = find_exec(req.container_id, req.exec_id);
    if (!e.ok()) return error_reply(req.id, e.error());
    return status_reply(req.id, (*e)->resize(req.rows, req.cols));
  }
  auto c = find(req.container_id);
  if (!c.ok()) return error_reply(req.id, c.error());
  return status_reply(req.id, (*c)->resize(req.rows, req.cols));
}

Result<ExecProcess*> Agent::find_exec(std::string_view container_id, std::string_view exec_id) {
  RUNVM_CHECK(find(container_id));
  auto it = execs_.find(exec_id);
  if (it == execs_.end())
    return make_error("exec process \"" + std::string(exec_id) + "\" does not exist");
  return it->second.get();
}

proto::AgentMessage Agent::exec_process(const proto::Exec& req) {
  auto c = find(req.container_id);
  if (!c.ok()) return error_reply(req.id, c.error());
  if ((*c)->exited()) return error_reply(req.id, make_error("cannot exec in a stopped container"));
  if (execs_.count(req.exec_id))
    return error_reply(req.id, make_error("exec id exists: " + req.exec_id));
  if (execs_.size() >= kMaxExecs)
    return error_reply(req.id, make_error("too many exec processes in this container"));
  auto launched =
      ExecProcess::launch(req, **c, config_.dial, *loop_, [this] { send_pending_exit(); });
  if (auto* refusal = std::get_if<Container::Refusal>(&launched)) {
    proto::ErrorReply e = error_reply(req.id, refusal->error);
    e.exit_code = refusal->exit_code;
    return e;
  }
  execs_.emplace(req.exec_id, std::move(std::get<std::unique_ptr<ExecProcess>>(launched)));
  return proto::Ok{req.id};
}

}  // namespace runvm::agent
