// What launching any process in the guest needs, shared by the container's
// main process (container.cc) and exec'd processes (exec.cc): stdio ends,
// the pty of a terminal process, and the process's report on the sync pair.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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

// What the process said on the sync pair (process_init.h, init_sync).
struct InitReport {
  enum Kind { kReady, kFailed, kClosed, kTimedOut } kind;
  uint8_t exit_code = 1;
  std::string message;
};
InitReport read_report(int sync_fd, int timeout_ms);

}  // namespace runvm::agent
