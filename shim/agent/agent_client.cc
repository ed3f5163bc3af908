#include "shim/agent/agent_client.h"

#include <poll.h>

#include <chrono>

#include "guest/protocol/constants.h"
#include "guest/protocol/frame.h"

namespace runvm {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until deadline, at least 0.
int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

Error unexpected(const proto::AgentMessage& msg) {
  return make_error("agent: unexpected message \"" +
                    std::string(std::visit([](const auto& m) { return m.kType; }, msg)) + "\"");
}

}  // namespace

Result<proto::AgentMessage> AgentClient::receive(int timeout_ms, int abort_fd) {
  pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {abort_fd, POLLIN, 0}};
  int n;
  do {
    n = poll(fds, abort_fd >= 0 ? 2 : 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("poll agent");
  if (n == 0)
    return make_error("agent did not answer within " + std::to_string(timeout_ms) + " ms",
                      ETIMEDOUT);
  if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
    return make_error("VM exited before the agent answered", ECHILD);
  auto frame = RUNVM_TRY(proto::read_frame(fd_.get()).context("agent"));
  if (!frame) return make_error("agent closed the connection", ECONNRESET);
  return proto::parse_agent_message(*frame).context("agent message");
}

Result<proto::Hello> AgentClient::wait_hello(int timeout_ms, int abort_fd) {
  auto msg = RUNVM_TRY(receive(timeout_ms, abort_fd));
  auto* hello = std::get_if<proto::Hello>(&msg);
  if (!hello) return make_error("agent: expected hello first");
  if (hello->version != proto::kProtocolVersion)
    return make_error("agent speaks protocol " + std::to_string(hello->version) + ", we speak " +
                      std::to_string(proto::kProtocolVersion));
  return *hello;
}

Result<proto::AgentMessage> AgentClient::exchange(const proto::HostMessage& request) {
  RUNVM_CHECK(proto::write_frame(fd_.get(), proto::to_json(request)).context("agent"));
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  for (;;) {
    auto msg = RUNVM_TRY(receive(remaining_ms(deadline), abort_fd_));
    if (!queue_event(msg)) return msg;
  }
}

bool AgentClient::queue_event(proto::AgentMessage& msg) {
  if (auto* exit = std::get_if<proto::Exit>(&msg)) {
    exits_.push_back(std::move(*exit));
    return true;
  }
  if (auto* exit = std::get_if<proto::ExecExit>(&msg)) {
    exec_exits_.push_back(std::move(*exit));
    return true;
  }
  return false;
}

template <class Reply>
Result<Reply> AgentClient::call(const proto::HostMessage& request, uint64_t id) {
  auto msg = RUNVM_TRY(exchange(request));
  if (auto* err = std::get_if<proto::ErrorReply>(&msg))
    return make_error("agent: " + proto::printable(err->message));
  auto* reply = std::get_if<Reply>(&msg);
  if (!reply) return unexpected(msg);
  if (reply->id != id) return make_error("agent: reply id mismatch");
  return *reply;
}

Status AgentClient::call_ok(const proto::HostMessage& request, uint64_t id) {
  RUNVM_CHECK(call<proto::Ok>(request, id));
  return {};
}

Status AgentClient::ping() {
  uint64_t id = next_id_++;
  RUNVM_CHECK(call<proto::Pong>(proto::Ping{id}, id));
  return {};
}

Status AgentClient::shutdown() {
  uint64_t id = next_id_++;
  return call_ok(proto::Shutdown{id}, id);
}

Status AgentClient::create(proto::Create req) {
  req.id = next_id_++;
  return call_refusable(req, req.id);
}

Status AgentClient::configure_network(proto::NetworkConfig network) {
  uint64_t id = next_id_++;
  return call_ok(proto::ConfigureNetwork{id, std::move(network)}, id);
}

Status AgentClient::exec(proto::Exec req) {
  req.id = next_id_++;
  return call_refusable(req, req.id);
}

Status AgentClient::call_refusable(const proto::HostMessage& req, uint64_t id) {
  auto msg = RUNVM_TRY(exchange(req));
  if (auto* err = std::get_if<proto::ErrorReply>(&msg)) {
    if (err->id != id) return make_error("agent: reply id mismatch");
    int code = err->exit_code == 127 ? ENOENT : err->exit_code == 126 ? EACCES : 0;
    return make_error(proto::printable(err->message), code);
  }
  auto* ok = std::get_if<proto::Ok>(&msg);
  if (!ok) return unexpected(msg);
  if (ok->id != id) return make_error("agent: reply id mismatch");
  return {};
}

Status AgentClient::start(const std::string& container_id) {
  uint64_t id = next_id_++;
  return call_ok(proto::Start{id, container_id}, id);
}

Status AgentClient::signal(const std::string& container_id, int sig, bool all) {
  if (sig <= 0 || static_cast<uint32_t>(sig) > proto::kMaxSignal)
    return make_error("signal " + std::to_string(sig) + " out of range", EINVAL);
  uint64_t id = next_id_++;
  return call_ok(proto::Signal{id, container_id, static_cast<uint32_t>(sig), all}, id);
}

Status AgentClient::resize(const std::string& container_id, uint16_t rows, uint16_t cols) {
  uint64_t id = next_id_++;
  return call_ok(proto::Resize{id, container_id, rows, cols}, id);
}

Status AgentClient::signal_exec(const std::string& container_id, const std::string& exec_id,
                                int sig) {
  if (sig <= 0 || static_cast<uint32_t>(sig) > proto::kMaxSignal)
    return make_error("signal " + std::to_string(sig) + " out of range", EINVAL);
  uint64_t id = next_id_++;
  proto::Signal s{id, container_id, static_cast<uint32_t>(sig), false};
  s.exec_id = exec_id;
  return call_ok(s, id);
}

Status AgentClient::resize_exec(const std::string& container_id, const std::string& exec_id,
                                uint16_t rows, uint16_t cols) {
  uint64_t id = next_id_++;
  proto::Resize r{id, container_id, rows, cols};
  r.exec_id = exec_id;
  return call_ok(r, id);
}

std::optional<proto::ExecExit> AgentClient::take_exec_exit() {
  if (exec_exits_.empty()) return std::nullopt;
  proto::ExecExit e = std::move(exec_exits_.front());
  exec_exits_.pop_front();
  return e;
}

std::optional<proto::Exit> AgentClient::take_exit() {
  if (exits_.empty()) return std::nullopt;
  proto::Exit e = std::move(exits_.front());
  exits_.pop_front();
  return e;
}

Result<proto::Exit> AgentClient::wait_exit(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (exits_.empty()) RUNVM_CHECK(pump_within(remaining_ms(deadline)));
  return *take_exit();
}

Status AgentClient::pump() { return pump_within(-1); }

Status AgentClient::pump_within(int timeout_ms) {
  auto msg = RUNVM_TRY(receive(timeout_ms, abort_fd_));
  if (!queue_event(msg)) return unexpected(msg);
  return {};
}

}  // namespace runvm
