// What launching any process in the guest needs, shared by the container's
// main process (container.cc) and exec'd processes (exec.cc): stdio ends,
// the pty of a terminal process, and the process's report on the sync pair.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "guest/agent/relay.h"
#include "guest/protocol/container_messages.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

Result<UniqueFd> open_null();
Result<UniqueFd> dup_fd(int fd);  // close-on-exec, above 2

struct Pty {
  UniqueFd master, slave;
};
// A new pty pair, both ends close-on-exec and not our controlling tty.
Result<Pty> open_pty(const std::optional<proto::ConsoleSize>& size);

// TIOCSWINSZ on a terminal process's pty master: the process gets SIGWINCH.
Status set_window_size(int pty_master, uint16_t rows, uint16_t cols);

// The stdio of a new process: the dialed vsock streams (port 0: /dev/null)
// and, for a terminal process, a pty whose slave becomes its fds 0-2.
struct ProcessStdio {
  UniqueFd in, out, err;  // err stays empty for a terminal process
  Pty pty;
  int fds[3] = {-1, -1, -1};  // what the process gets as 0, 1, 2
};
Result<ProcessStdio> open_process_stdio(const proto::StdioPorts& ports,
                                        const proto::Process& process,
                                        const std::function<Result<UniqueFd>(uint32_t)>& dial);

// A terminal process's relays: pty output to the stdout stream and, when
// there is a stdin stream, that stream into the pty. Takes the streams.
struct TerminalRelays {
  std::unique_ptr<Relay> output, input;
};
Result<TerminalRelays> start_terminal_relays(ProcessStdio& stdio, bool has_stdin, EventLoop& loop,
                                             std::function<void()> on_progress);

// What the process said on the sync pair (process_init.h, init_sync).
struct InitReport {
  enum Kind { kReady, kFailed, kClosed, kTimedOut } kind;
  uint8_t exit_code = 1;
  std::string message;
};
InitReport read_report(int sync_fd, int timeout_ms);

}  // namespace runvm::agent
