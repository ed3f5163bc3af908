#include "guest/test_agent/transfer.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cstdlib>
#include <span>
#include <vector>

#include "guest/agent/process_io.h"
#include "guest/protocol/frame.h"
#include "guest/test_agent/transfer_messages.h"
#include "guest/test_agent/transfer_stream.h"

namespace runvm::test_agent {
namespace {

std::string error_reply(uint64_t id, const Error& e) {
  return proto::to_json(proto::ErrorReply{id, proto::printable(e.message)});
}

std::string transfer(const Transfer& req, const agent::DialFn& dial) {
  auto conn = dial(req.port);
  if (!conn.ok())
    return error_reply(req.id,
                       conn.error().wrap("transfer: dial port " + std::to_string(req.port)));
  UniqueFd data = std::move(conn).value();
  if (auto st = agent::await_connected(data.get(), std::chrono::seconds(5)); !st.ok())
    return error_reply(req.id, st.error().wrap("transfer: dial port " + std::to_string(req.port)));
  // A host that stops reading must not wedge the agent forever.
  timeval stall{kTransferStallSeconds, 0};
  setsockopt(data.get(), SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof stall);

  TransferStream stream(req.seed);
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
  return proto::to_json(TransferDone{req.id, req.bytes});
}

}  // namespace

bool is_crash_trigger(const json::Value& exec_request) {
  auto process = exec_request.get("process");
  if (!process.ok() || !*process || !(*process)->is_object()) return false;
  auto args = (*process)->get("args");
  if (!args.ok() || !*args || !(*args)->is_array()) return false;
  auto list = (*args)->as_array();
  if (!list.ok() || list->size() != 1 || !(*list)[0].is_string()) return false;
  auto text = (*list)[0].as_string();
  return text.ok() && *text == kCrashTrigger;
}

std::optional<std::string> handle_request(std::string_view request, const agent::DialFn& dial) {
  // Only claim requests of our own types; everything else (broken JSON
  // included) is the production handler's to answer.
  auto doc = json::Document::parse(request);
  if (!doc.ok() || !doc->root().is_object()) return std::nullopt;
  auto type = doc->root().get("type");
  if (!type.ok() || !*type || !(*type)->is_string()) return std::nullopt;
  auto name = (*type)->as_string();
  if (!name.ok()) return std::nullopt;
  if (*name == "exec" && is_crash_trigger(doc->root())) {
    // PID 1 dies: the guest kernel panics ("Attempted to kill init"), and
    // with panic=-1 and QEMU's -no-reboot the VM ends, as a real agent crash
    // would end it. Not a clean exit: no sync, no reply.
    abort();
  }
  if (*name != Transfer::kType) return std::nullopt;
  auto req = parse_test_host_message(request);
  if (!req.ok()) return error_reply(proto::salvage_id(request), req.error().wrap("bad request"));
  return transfer(std::get<Transfer>(*req), dial);
}

}  // namespace runvm::test_agent
