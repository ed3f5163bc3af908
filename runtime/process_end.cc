#include "runtime/process_end.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace runvm::cli {

int ProcessEnd::sys_pidfd_open(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

ProcessEnd::ProcessEnd(pid_t pid, std::function<bool()> running, PidfdOpen open)
    : pidfd_(open(pid)), running_(std::move(running)) {}

int ProcessEnd::timeout_ms() const {
  return pidfd_ ? -1 : static_cast<int>(kPolledInterval.count());
}

bool ProcessEnd::ended(short revents) const {
  // A pidfd is readable once the process exited (a zombie until reaped,
  // which running() counts as gone too).
  if (pidfd_) return (revents & (POLLIN | POLLHUP | POLLERR)) != 0 || !running_();
  return !running_();
}

}  // namespace runvm::cli
