// The shim's control socket (<state dir>/shim.sock): how `runvm start`,
// `kill`, `pause`... reach the running shim. One request per connection,
// framed like the agent protocol (guest/protocol/frame.h), JSON bodies:
//   {"op":"start"} {"op":"kill","signal":15,"all":false} {"op":"pause"}
//   {"op":"resume"} {"op":"resize","rows":24,"cols":80}
// Reply: {"ok":true} or {"ok":false,"error":"..."}.
#pragma once

#include <string>
#include <string_view>

#include "spec/base/result.h"

namespace runvm::control {

struct Request {
  std::string op;
  int signal = 0;
  bool all = false;
  unsigned rows = 0, cols = 0;
};

std::string encode(const Request& r);
Result<Request> parse_request(std::string_view json);
std::string encode_reply(const Status& s);
Status parse_reply(std::string_view json);

// Client: connects, sends, waits up to timeout_ms for the reply.
Status call(const std::string& socket_path, const Request& r, int timeout_ms = 30000);

}  // namespace runvm::control
