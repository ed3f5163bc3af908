#include "shim/agent/agent_client.h"

#include <poll.h>
#include <sys/socket.h>

#include "guest/protocol/constants.h"
#include "spec/base/log.h"

namespace runvm {
namespace {

std::string_view type_of(const proto::AgentMessage& msg) {
  return std::visit([](const auto& m) { return m.kType; }, msg);
}

// The id every host message carries.
uint64_t& id_of(proto::HostMessage& msg) {
  return std::visit([](auto& m) -> uint64_t& { return m.id; }, msg);
}

Status signal_in_range(int sig) {
  if (sig <= 0 || static_cast<uint32_t>(sig) > proto::kMaxSignal)
    return make_error("signal " + std::to_string(sig) + " out of range", EINVAL);
  return {};
}

}  // namespace

AgentClient::AgentClient(UniqueFd fd) : fd_(std::move(fd)) {}

AgentClient::~AgentClient() {
  // Nothing is completed from here: the owner is going away with its
  // callbacks' captures.
  detach();
}

// --- requests ----------------------------------------------------------------

Result<proto::HostMessage> AgentClient::checked(proto::HostMessage request) const {
  if (auto* s = std::get_if<proto::Signal>(&request))
    RUNVM_CHECK(signal_in_range(static_cast<int>(s->signal)));
  return request;
}

void AgentClient::request(proto::HostMessage msg, Done done) {
  if (broken_) return done({*broken_, std::nullopt});
  uint64_t id = next_id_++;
  id_of(msg) = id;
  Pending p;
  if (std::holds_alternative<proto::Ping>(msg)) p.expects = proto::Pong::kType;
  if (std::holds_alternative<proto::StatsRequest>(msg)) p.expects = proto::ContainerStats::kType;
  p.verbatim =
      std::holds_alternative<proto::Create>(msg) || std::holds_alternative<proto::Exec>(msg);
  p.deadline = Clock::now() + timeout_;
  p.done = std::move(done);
  auto frame = proto::encode_frame(proto::to_json(msg));
  if (!frame.ok()) return p.done({std::move(frame).error().wrap("agent request"), std::nullopt});
  pending_.emplace(id, std::move(p));
  out_ += *frame;
  flush();
  rearm();
}

void AgentClient::start(const std::string& container_id, Done done) {
  request(proto::Start{0, container_id}, std::move(done));
}

void AgentClient::signal(const std::string& container_id, const std::string& exec_id, int sig,
                         bool all, Done done) {
  if (auto r = signal_in_range(sig); !r.ok()) return done({std::move(r), std::nullopt});
  proto::Signal s{0, container_id, static_cast<uint32_t>(sig), all};
  s.exec_id = exec_id;
  request(std::move(s), std::move(done));
}

void AgentClient::resize(const std::string& container_id, const std::string& exec_id, uint16_t rows,
                         uint16_t cols, Done done) {
  proto::Resize r{0, container_id, rows, cols};
  r.exec_id = exec_id;
  request(std::move(r), std::move(done));
}

void AgentClient::set_exit_handlers(const std::string& container_id, ExitHandlers handlers) {
  handlers_[container_id] = std::move(handlers);
}

void AgentClient::remove_exit_handlers(const std::string& container_id) {
  handlers_.erase(container_id);
}

// --- the stream --------------------------------------------------------------

void AgentClient::flush() {
  while (!out_.empty() && !broken_) {
    // MSG_DONTWAIT rather than O_NONBLOCK: the fd's blocking mode is left
    // to its other users (the test extension's client).
    ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) return fail(errno_error("agent: write"));
    out_.erase(0, static_cast<size_t>(n));
  }
  watch_output(!out_.empty() && !broken_);
}

void AgentClient::watch_output(bool want) {
  if (!loop_ || want == watching_out_) return;
  watching_out_ = want;
  (void)loop_->modify(fd_.get(), want ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

void AgentClient::on_readable() {
  std::weak_ptr<bool> alive = alive_;
  char buf[64 * 1024];
  // A bounded batch per wake-up: a chatty agent cannot starve the loop.
  for (int round = 0; round < 16 && !broken_; ++round) {
    ssize_t n = recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno != ECONNRESET) return fail(errno_error("agent: read"));
    if (n <= 0) return fail(make_error("agent closed the connection", ECONNRESET));
    if (auto fed = decoder_.feed(std::string_view(buf, static_cast<size_t>(n))); !fed.ok())
      return fail(std::move(fed).error().wrap("agent"));
    for (;;) {
      auto frame = decoder_.next();
      if (!frame.ok()) return fail(std::move(frame).error().wrap("agent"));
      if (!*frame) break;
      auto msg = proto::parse_agent_message(**frame);
      if (!msg.ok()) {
        log::warn("agent: dropped a message: " + msg.error().message);
        continue;
      }
      on_message(std::move(*msg));
      if (alive.expired()) return;  // a handler destroyed us
    }
    if (static_cast<size_t>(n) < sizeof buf) break;
  }
}

void AgentClient::on_message(proto::AgentMessage msg) {
  bool first = std::exchange(first_, false);
  if (auto* hello = std::get_if<proto::Hello>(&msg)) {
    if (!first) return log::warn("agent: dropped a second hello");
    if (hello->version != proto::kProtocolVersion)
      return fail(make_error("agent speaks protocol " + std::to_string(hello->version) +
                             ", we speak " + std::to_string(proto::kProtocolVersion)));
    hello_ = std::move(*hello);
    // Requests pipelined ahead of the hello: the agent reads them only now.
    for (auto& [id, p] : pending_) p.deadline = Clock::now() + timeout_;
    rearm();
    return;
  }
  if (first) return fail(make_error("agent: expected hello first"));
  if (auto* exit = std::get_if<proto::Exit>(&msg)) {
    auto it = handlers_.find(exit->container_id);
    if (it != handlers_.end() && it->second.exit) return it->second.exit(*exit);
    return log::warn("agent: exit of unknown container " + exit->container_id);
  }
  if (auto* exit = std::get_if<proto::ExecExit>(&msg)) {
    auto it = handlers_.find(exit->container_id);
    if (it != handlers_.end() && it->second.exec_exit) return it->second.exec_exit(*exit);
    return log::warn("agent: exec exit of unknown container " + exit->container_id);
  }
  if (auto* oom = std::get_if<proto::Oom>(&msg)) {
    auto it = handlers_.find(oom->container_id);
    if (it != handlers_.end() && it->second.oom) return it->second.oom(*oom);
    return log::warn("agent: oom event of unknown container " + oom->container_id);
  }
  uint64_t id = std::visit(
      []<class M>(const M& m) -> uint64_t {
        if constexpr (requires(const M& x) { x.id; })
          return m.id;
        else
          return 0;
      },
      msg);
  auto it = pending_.find(id);
  if (it == pending_.end())
    return log::warn("agent: " + std::string(type_of(msg)) + " for no pending request (id " +
                     std::to_string(id) + ")");
  const Pending& p = it->second;
  Reply reply;
  if (auto* err = std::get_if<proto::ErrorReply>(&msg)) {
    std::string text = proto::printable(err->message);
    reply.status = make_error(p.verbatim ? text : "agent: " + text);
    reply.exit_code = err->exit_code;
  } else if (type_of(msg) != p.expects) {
    reply.status = make_error("agent: unexpected message \"" + std::string(type_of(msg)) + "\"");
  } else if (auto* stats = std::get_if<proto::ContainerStats>(&msg)) {
    reply.stats = std::move(*stats);
  }
  complete(id, std::move(reply));
}

void AgentClient::complete(uint64_t id, Reply reply) {
  auto node = pending_.extract(id);
  if (node.empty()) return;
  rearm();
  node.mapped().done(std::move(reply));
}

void AgentClient::expire() {
  auto now = Clock::now();
  std::vector<uint64_t> late;
  for (const auto& [id, p] : pending_)
    if (p.deadline <= now) late.push_back(id);
  std::weak_ptr<bool> alive = alive_;
  for (uint64_t id : late) {
    complete(id,
             {make_error("agent did not answer within " + std::to_string(timeout_.count()) + " ms",
                         ETIMEDOUT),
              std::nullopt});
    if (alive.expired()) return;
  }
}

void AgentClient::rearm() {
  if (!timer_) return;
  if (pending_.empty()) return timer_->disarm();
  auto earliest = pending_.begin()->second.deadline;
  for (const auto& [id, p] : pending_) earliest = std::min(earliest, p.deadline);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(earliest - Clock::now());
  timer_->arm(left + std::chrono::milliseconds(1));
}

void AgentClient::fail(Error e) {
  if (broken_) return;
  broken_ = e;
  out_.clear();
  if (loop_) {
    loop_->remove(fd_.get());
    if (abort_fd_ >= 0) loop_->remove(abort_fd_);
    if (timer_) timer_->disarm();
  }
  std::weak_ptr<bool> alive = alive_;
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) {
    p.done({e, std::nullopt});
    if (alive.expired()) return;
  }
  if (on_broken_) on_broken_(e);
}

// --- the event loop ----------------------------------------------------------

Status AgentClient::attach(EventLoop& loop, std::function<void(const Error&)> on_broken) {
  if (loop_) return make_error("agent client already attached", EBUSY);
  if (broken_) return *broken_;
  timer_ = std::make_unique<Timer>(loop, [this] { expire(); });
  RUNVM_CHECK(loop.add(fd_.get(), EPOLLIN, [this](uint32_t events) {
    std::weak_ptr<bool> alive = alive_;
    if (events & EPOLLOUT) flush();
    if (!alive.expired() && !broken_ && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable();
  }));
  if (abort_fd_ >= 0) {
    auto added = loop.add(abort_fd_, EPOLLIN, [this](uint32_t) {
      fail(make_error("VM exited before the agent answered", ECHILD));
    });
    if (!added.ok()) {
      loop.remove(fd_.get());
      timer_.reset();
      return added;
    }
  }
  loop_ = &loop;
  on_broken_ = std::move(on_broken);
  watching_out_ = false;
  flush();
  rearm();
  return {};
}

void AgentClient::detach() {
  if (!loop_) return;
  loop_->remove(fd_.get());
  if (abort_fd_ >= 0) loop_->remove(abort_fd_);
  timer_.reset();
  loop_ = nullptr;
  on_broken_ = nullptr;
  watching_out_ = false;
}

// --- blocking ----------------------------------------------------------------

Status AgentClient::refuse_if_attached() const {
  if (loop_) return make_error("agent: a blocking call while an event loop drives the client");
  return {};
}

Status AgentClient::pump_until(Clock::time_point deadline) {
  if (broken_) return *broken_;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  short want = POLLIN | (out_.empty() ? 0 : POLLOUT);
  pollfd fds[2] = {{fd_.get(), want, 0}, {abort_fd_, POLLIN, 0}};
  int n = poll(fds, abort_fd_ >= 0 ? 2 : 1, static_cast<int>(std::max<int64_t>(0, left.count())));
  if (n < 0 && errno == EINTR) return {};
  if (n < 0) return errno_error("poll agent");
  if (n == 0) return make_error("agent did not answer", ETIMEDOUT);
  if (abort_fd_ >= 0 && fds[1].revents) {
    fail(make_error("VM exited before the agent answered", ECHILD));
    return *broken_;
  }
  if (fds[0].revents & POLLOUT) flush();
  if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) on_readable();
  if (broken_) return *broken_;
  return {};
}

Result<proto::Hello> AgentClient::wait_hello(int timeout_ms, int abort_fd) {
  RUNVM_CHECK(refuse_if_attached());
  if (abort_fd >= 0) abort_fd_ = abort_fd;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!hello_) {
    auto r = pump_until(deadline);
    if (!r.ok() && r.error().code == ETIMEDOUT)
      return make_error("agent did not answer within " + std::to_string(timeout_ms) + " ms",
                        ETIMEDOUT);
    RUNVM_CHECK(std::move(r));
  }
  return *hello_;
}

AgentClient::Reply AgentClient::call_sync(proto::HostMessage msg) {
  return await(send(std::move(msg)));
}

AgentClient::Outcome AgentClient::send(proto::HostMessage msg) {
  auto outcome = std::make_shared<std::optional<Reply>>();
  if (auto r = refuse_if_attached(); !r.ok()) {
    *outcome = Reply{std::move(r), std::nullopt};
    return outcome;
  }
  auto checked_msg = checked(std::move(msg));
  if (!checked_msg.ok()) {
    *outcome = Reply{std::move(checked_msg).error(), std::nullopt};
    return outcome;
  }
  request(std::move(*checked_msg), [outcome](Reply r) { *outcome = std::move(r); });
  return outcome;
}

AgentClient::Reply AgentClient::await(const Outcome& outcome) {
  if (!*outcome) {
    if (auto r = refuse_if_attached(); !r.ok()) return {std::move(r), std::nullopt};
  }
  while (!*outcome) {
    Clock::time_point deadline = Clock::now() + timeout_;
    for (const auto& [id, p] : pending_) deadline = std::min(deadline, p.deadline);
    auto r = pump_until(deadline);
    if (!r.ok() && r.error().code == ETIMEDOUT) expire();
  }
  return std::move(**outcome);
}

Status AgentClient::ping() { return call_sync(proto::Ping{}).status; }
Status AgentClient::shutdown() { return call_sync(proto::Shutdown{}).status; }

Status AgentClient::configure_network(proto::NetworkConfig network) {
  return call_sync(proto::ConfigureNetwork{0, std::move(network)}).status;
}

}  // namespace runvm
