// Tells when a recorded process ends, for a loop that poll(2)s: by its pidfd
// where the kernel has pidfd_open (Linux 5.3+), else (ENOSYS: an older
// kernel, or a seccomp profile that refuses it) by looking again every
// kPolledInterval. The pool watcher (pool_watch.cc) waits on its shim so.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>

#include "spec/base/unique_fd.h"

namespace runvm::cli {

class ProcessEnd {
 public:
  static constexpr std::chrono::milliseconds kPolledInterval{200};
  using PidfdOpen = int (*)(pid_t);
  // pidfd_open(2) itself; a test passes one that fails.
  static int sys_pidfd_open(pid_t pid);

  // `running` tells whether the process still runs (pid and start time:
  // a recycled pid is not it). Call it after watch() to close the race with
  // an exit before the pidfd was opened.
  ProcessEnd(pid_t pid, std::function<bool()> running, PidfdOpen open = sys_pidfd_open);

  // For poll(2): readable once it exited, or -1 (poll ignores it) when
  // polled by interval.
  int fd() const { return pidfd_.get(); }
  // poll(2)'s timeout: none with a pidfd, kPolledInterval without.
  int timeout_ms() const;
  bool polled() const { return !pidfd_; }
  // After a poll: whether it ended (`revents` is fd()'s).
  bool ended(short revents) const;

 private:
  UniqueFd pidfd_;
  std::function<bool()> running_;
};

}  // namespace runvm::cli
