#include "shim/agent/agent_client.h"

#include <poll.h>

#include "guest/protocol/constants.h"
#include "guest/protocol/frame.h"

namespace runvm {

Result<proto::AgentMessage> AgentClient::receive(int timeout_ms, int abort_fd) {
  pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {abort_fd, POLLIN, 0}};
  int n;
  do {
    n = poll(fds, abort_fd >= 0 ? 2 : 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("poll agent");
  if (n == 0) return make_error("agent did not answer within " + std::to_string(timeout_ms) + " ms", ETIMEDOUT);
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

template <class Reply>
Result<Reply> AgentClient::call(const proto::HostMessage& request, uint64_t id) {
  RUNVM_CHECK(proto::write_frame(fd_.get(), proto::to_json(request)).context("agent"));
  auto msg = RUNVM_TRY(receive(timeout_ms_, abort_fd_));
  if (auto* err = std::get_if<proto::ErrorReply>(&msg))
    return make_error("agent: " + proto::printable(err->message));
  auto* reply = std::get_if<Reply>(&msg);
  if (!reply) return make_error("agent: unexpected reply type");
  if (reply->id != id) return make_error("agent: reply id mismatch");
  return *reply;
}

Status AgentClient::ping() {
  uint64_t id = next_id_++;
  RUNVM_CHECK(call<proto::Pong>(proto::Ping{id}, id));
  return {};
}

Result<uint64_t> AgentClient::transfer(uint32_t port, uint64_t bytes, uint64_t seed) {
  uint64_t id = next_id_++;
  proto::Transfer t;
  t.id = id;
  t.port = port;
  t.bytes = bytes;
  t.seed = seed;
  auto done = RUNVM_TRY(call<proto::TransferDone>(t, id));
  return done.bytes;
}

Status AgentClient::shutdown() {
  uint64_t id = next_id_++;
  RUNVM_CHECK(call<proto::Ok>(proto::Shutdown{id}, id));
  return {};
}

}  // namespace runvm
