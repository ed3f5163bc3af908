#include "guest/agent/agent.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

#include "guest/protocol/frame.h"
#include "guest/protocol/transfer_stream.h"

namespace runvm::agent {
namespace {

// Error text goes back to the host, which logs it: keep it tame.
proto::ErrorReply error_reply(uint64_t id, const Error& e) {
  return proto::ErrorReply{id, proto::printable(e.message)};
}

}  // namespace

Status Agent::send_hello(const proto::Hello& hello) {
  return proto::write_frame(fd_, proto::to_json(hello)).context("sending hello");
}

Result<Agent::Outcome> Agent::serve() {
  for (;;) {
    auto frame = RUNVM_TRY(proto::read_frame(fd_).context("reading request"));
    if (!frame) return Outcome::kHostGone;
    Handled h = handle(*frame);
    RUNVM_CHECK(proto::write_frame(fd_, proto::to_json(h.reply)).context("sending reply"));
    if (h.shutdown) return Outcome::kShutdown;
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
        } else if constexpr (std::is_same_v<T, proto::Transfer>) {
          return {transfer(req)};
        } else if constexpr (std::is_same_v<T, proto::Shutdown>) {
          return {proto::Ok{req.id}, true};
        } else {
          static_assert(sizeof(T) == 0, "unhandled host message");
        }
      },
      *parsed);
}

proto::AgentMessage Agent::transfer(const proto::Transfer& req) {
  auto conn = dial_(req.port);
  if (!conn.ok())
    return error_reply(req.id,
                       conn.error().wrap("transfer: dial port " + std::to_string(req.port)));
  UniqueFd data = std::move(conn).value();
  // A host that stops reading must not wedge the agent forever.
  timeval stall{kTransferStallSeconds, 0};
  setsockopt(data.get(), SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof stall);

  proto::TransferStream stream(req.seed);
  std::vector<uint8_t> buf(std::min<uint64_t>(kTransferChunk, req.bytes));
  for (uint64_t left = req.bytes; left > 0;) {
    size_t n = std::min<uint64_t>(buf.size(), left);
    stream.fill(std::span(buf.data(), n));
    auto st = proto::write_all(data.get(), buf.data(), n);
    if (!st.ok())
      return error_reply(req.id, st.error().wrap("transfer: after " +
                                                 std::to_string(req.bytes - left) + " bytes"));
    left -= n;
  }
  data.reset();  // EOF tells the host the stream is complete
  return proto::TransferDone{req.id, req.bytes};
}

}  // namespace runvm::agent
