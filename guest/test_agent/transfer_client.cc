#include "guest/test_agent/transfer_client.h"

#include <poll.h>

#include "guest/protocol/frame.h"

namespace runvm::test_agent {

Result<uint64_t> request_transfer(int control_fd, const Transfer& req, int timeout_ms) {
  RUNVM_CHECK(proto::write_frame(control_fd, proto::to_json(req)).context("transfer request"));
  pollfd p{control_fd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("poll agent");
  if (n == 0) return make_error("agent did not answer the transfer", ETIMEDOUT);
  auto frame = RUNVM_TRY(proto::read_frame(control_fd).context("transfer reply"));
  if (!frame) return make_error("agent closed the connection", ECONNRESET);
  auto reply = parse_test_agent_message(*frame);
  if (!reply.ok()) {
    auto msg = proto::parse_agent_message(*frame);
    if (msg.ok())
      if (auto* err = std::get_if<proto::ErrorReply>(&*msg))
        return make_error("agent: " + proto::printable(err->message));
    return reply.error().wrap("transfer reply");
  }
  const auto& done = std::get<TransferDone>(*reply);
  if (done.id != req.id) return make_error("transfer reply: id mismatch");
  return done.bytes;
}

}  // namespace runvm::test_agent
