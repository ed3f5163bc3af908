// The loop of every host process that stands for a process in a VM: a
// foreground `runvm run` with a terminal, `runvm exec`, and exec -d's child.
// It copies bytes between local fds and the process's streams, passes our
// signals and window size on, and returns the process's raw wait status
// once its end is known and the output written before it is delivered.
#pragma once

#include <sys/ioctl.h>
#include <sys/signalfd.h>

#include <chrono>
#include <functional>
#include <optional>

#include "spec/base/result.h"

namespace runvm::cli {

// Unused directions are -1. The process's ends (in_to, out_from, err_from)
// are made non-blocking, so they must be ours alone (a socket, a pty
// master); the local ends may be inherited and shared, and stay blocking:
// out_to and err_to are written without blocking all the same (a socket
// with MSG_DONTWAIT, a pipe or terminal through a non-blocking description
// of our own; a pty master as the one exception, written at most PIPE_BUF
// at a time once poll says it takes some).
struct RelayStreams {
  int in_from = -1, in_to = -1;    // towards the process; EOF is passed on as shutdown(SHUT_WR)
  int out_from = -1, out_to = -1;  // from the process; EOF or EIO ends the direction
  int err_from = -1, err_to = -1;
};

// What the loop talks to about the process itself.
class RelayPeer {
 public:
  virtual ~RelayPeer() = default;
  // Polled for input; on_readable() is called when there is some.
  virtual int fd() const = 0;
  // The raw wait status once the process ended, else nullopt.
  virtual Result<std::optional<int>> on_readable() = 0;
  // A signal sent to us (SIGWINCH excepted) while the process runs.
  virtual void signal(const signalfd_siginfo& si) = 0;
  virtual void resize(const winsize& ws) = 0;
};

// Where the process's window size comes from, when it has a terminal.
struct RelayWindow {
  // Asked at start, at each SIGWINCH and every poll_ms; nullopt: unchanged.
  std::function<std::optional<winsize>()> changed;
  // A console slave gets no SIGWINCH when its master is resized: poll it.
  int poll_ms = -1;
};

// How long output may still arrive after the process ended (background
// processes may keep its streams open): `idle` since output last moved (a
// slow reader of ours holds it up, and must not lose the rest), at most
// `max` since the end. A local reader that takes nothing (a pipe nobody
// reads) holds the relay no longer: writes to the local ends never block.
struct RelayDrain {
  std::chrono::milliseconds idle{5000};
  std::chrono::milliseconds max{300000};
};

Result<int> relay(const RelayStreams& s, RelayPeer& peer, const RelayWindow& window = {},
                  const RelayDrain& drain = {});

}  // namespace runvm::cli
