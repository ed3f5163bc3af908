#include "shim/client/control.h"

#include <poll.h>
#include <sys/socket.h>

#include "guest/protocol/frame.h"
#include "spec/base/json.h"
#include "spec/base/unique_fd.h"
#include "spec/base/unix_socket.h"

namespace runvm::control {

std::string encode(const Request& r) {
  json::Writer w;
  w.begin_object().key("op").string(r.op);
  if (r.op == "kill") w.key("signal").integer(r.signal).key("all").boolean(r.all);
  if (r.op == "resize") w.key("rows").uinteger(r.rows).key("cols").uinteger(r.cols);
  w.end_object();
  return w.str();
}

Result<Request> parse_request(std::string_view text) {
  auto doc = RUNVM_TRY(json::Document::parse(text));
  auto root = doc.root();
  Request r;
  r.op = RUNVM_TRY(RUNVM_TRY(root.at("op")).as_string());
  if (r.op == "kill") {
    int64_t sig = RUNVM_TRY(RUNVM_TRY(root.at("signal")).as_int());
    if (sig <= 0 || sig > 64) return make_error("signal: out of range");
    r.signal = static_cast<int>(sig);
    if (auto all = RUNVM_TRY(root.get("all"))) r.all = RUNVM_TRY(all->as_bool());
  } else if (r.op == "resize") {
    uint64_t rows = RUNVM_TRY(RUNVM_TRY(root.at("rows")).as_uint());
    uint64_t cols = RUNVM_TRY(RUNVM_TRY(root.at("cols")).as_uint());
    if (rows > 0xffff || cols > 0xffff) return make_error("resize: out of range");
    r.rows = static_cast<unsigned>(rows);
    r.cols = static_cast<unsigned>(cols);
  }
  return r;
}

std::string encode_reply(const Status& s) {
  json::Writer w;
  w.begin_object().key("ok").boolean(s.ok());
  if (!s.ok()) w.key("error").string(s.error().message);
  w.end_object();
  return w.str();
}

Status parse_reply(std::string_view text) {
  auto doc = RUNVM_TRY(json::Document::parse(text));
  if (RUNVM_TRY(RUNVM_TRY(doc.root().at("ok")).as_bool())) return {};
  auto err = RUNVM_TRY(doc.root().get("error"));
  return make_error(err ? RUNVM_TRY(err->as_string()) : "shim refused the request");
}

Status call(const std::string& socket_path, const Request& r, int timeout_ms) {
  auto connected = connect_unix(socket_path);
  if (!connected.ok()) {
    if (connected.error().code == ENAMETOOLONG) return std::move(connected).error();
    return errno_error("connect to shim", connected.error().code);
  }
  UniqueFd fd = std::move(*connected);
  RUNVM_CHECK(proto::write_frame(fd.get(), encode(r)));
  pollfd p{fd.get(), POLLIN, 0};
  int n;
  do {
    n = poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return make_error("shim did not answer", ETIMEDOUT);
  auto reply = RUNVM_TRY(proto::read_frame(fd.get()));
  if (!reply) return make_error("shim closed the connection", ECONNRESET);
  return parse_reply(*reply);
}

}  // namespace runvm::control
