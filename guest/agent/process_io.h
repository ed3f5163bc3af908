// What launching any process in the guest needs, shared by the container's
// main process (container.cc) and exec'd processes (exec.cc): stdio ends,
// the pty of a terminal process, and the process's report on the sync pair.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

// Waits until the stream `fd` a DialFn returned is connected (at most
// `timeout`), then makes it blocking: the connect's error if it failed.
Status await_connected(int fd, std::chrono::milliseconds timeout);

// The stdio of a new process, as runc would give it (PROTOCOL.md, "stdio"):
// per stream, /dev/null when there is no port, else a guest object of the
// stream's kind (pipe, unix socketpair, raw pty) whose far end the agent
// relays to the dialed vsock stream; for a terminal process its pty's slave
// on all three. What the process gets is owned by its user, as runc's
// fixStdioPermissions does (/dev/null aside).
struct ProcessStdio {
  UniqueFd child[3];          // the process's ends; dropped after fork
  UniqueFd stream[3];         // the dialed vsock streams
  UniqueFd local[3];          // the agent's end of each guest object (non-terminal)
  Pty pty;                    // terminal only
  int fds[3] = {-1, -1, -1};  // what the process gets as 0, 1, 2
};
Result<ProcessStdio> open_process_stdio(const proto::StdioPorts& ports,
                                        const proto::Process& process,
                                        const std::function<Result<UniqueFd>(uint32_t)>& dial);

// The relays of a forked process's stdio; call once it holds its ends
// (they are dropped here, so its exit means EOF). Output relays carry what
// it writes to the host: its exit is reported once they are quiescent, and
// each closes its stream only after delivering everything (EOF for the
// host). Takes the streams and local ends.
struct StdioRelays {
  std::vector<std::unique_ptr<Relay>> outputs, inputs;
};
Result<StdioRelays> start_stdio_relays(ProcessStdio& stdio, bool terminal, EventLoop& loop,
                                       const std::function<void()>& on_progress);

// What the process said on the sync pair (process_init.h, init_sync).
struct InitReport {
  enum Kind { kReady, kFailed, kClosed, kTimedOut } kind;
  uint8_t exit_code = 1;
  std::string message;
};
// The report waiting on the sync fd, without blocking: nullopt when there
// is none yet. EOF (the process exec'd or died) and anything malformed are
// kClosed; kTimedOut is never returned (the caller keeps the deadline).
std::optional<InitReport> receive_report(int sync_fd);

}  // namespace runvm::agent
