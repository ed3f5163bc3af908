// The control socket's "exec" conversation (runvm exec <-> shim). Unlike
// the other ops it keeps its connection for the life of the exec'd process:
//   client -> shim  {"op":"exec","process":{..},"stdio":{..}}
//   shim -> client  {"ok":true} once the process execve'd, else
//                   {"ok":false,"error":"..","exit_code":127} and close
//   client -> shim  any number of {"op":"kill",..} / {"op":"resize",..}
//                   (control.h requests, for the exec'd process; no reply)
//   shim -> client  {"exit_status":N} (raw wait status) when it was reaped
// `process` and `stdio` are the agent protocol's (container_messages.h):
// the client listens on the hybrid-vsock ports itself, so the stdio bytes
// never pass through the shim. A client that hangs up abandons the process
// (it keeps running, as with runc).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "guest/protocol/container_messages.h"
#include "spec/base/result.h"

namespace runvm::control {

// The shim names the exec (its agent exec_id) itself.
struct ExecRequest {
  proto::Process process;
  proto::StdioPorts stdio;
  bool operator==(const ExecRequest&) const = default;
};

std::string encode_exec(const ExecRequest& r);
// For hostile input: the process is checked like the agent checks it.
Result<ExecRequest> parse_exec(std::string_view json);

// The first reply: like encode_reply, plus the shell exit code (127/126)
// of an executable that is missing / not executable.
std::string encode_exec_reply(const Status& s, std::optional<int> exit_code);
struct ExecReply {
  Status status;
  std::optional<int> exit_code;
};
Result<ExecReply> parse_exec_reply(std::string_view json);

std::string encode_exec_exit(int wait_status);
Result<int> parse_exec_exit(std::string_view json);

}  // namespace runvm::control
