// `runvm exec`'s side of the exec conversation with the container's shim
// (shim/client/control.h, Exec). We listen on three fresh hybrid-vsock
// ports (<socket dir>/vsock.sock_<port>) ourselves, so the agent's stdio
// streams for the process come straight to us; the shim only starts the
// process and reports its exit on our control connection.
#pragma once

#include <functional>
#include <string>

#include "guest/protocol/container_messages.h"
#include "runtime/container.h"
#include "runtime/exec_relay.h"

namespace runvm::cli {

struct ExecRun {
  bool detach = false;
  std::string pid_file;
  ExecTerminal tty;  // for a process with a terminal
};

// Starts `process` in the container. Without detach: relays until it exits
// and returns its raw wait status. With detach: a child of ours takes over
// the relay (its pid goes to the pid file) and we return 0 at once.
Result<int> run_exec(const Container& ct, const proto::Process& process, const ExecRun& o);

// What a pod member's relay shares with a detached exec: three fresh
// hybrid-vsock stdio ports on `vsock_path` with the kinds of our own stdio
// (or a terminal's),
// `open` (which sends the request naming them and returns the shim's
// connection once it accepted), then the guest's streams.
Result<ExecStreams> open_relay_streams(
    const std::string& vsock_path, bool terminal,
    const std::function<Result<UniqueFd>(const proto::StdioPorts&)>& open);

}  // namespace runvm::cli
