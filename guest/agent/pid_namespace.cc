#include "guest/agent/pid_namespace.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "spec/base/unique_fd.h"

namespace runvm::agent {
namespace {

UniqueFd pidfd_of(pid_t pid) {
  return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

}  // namespace

Result<pid_t> fork_in_pid_namespace(const PidNamespaceTarget& target) {
  if (!target.create && target.join <= 0) {
    pid_t pid = ::fork();
    if (pid < 0) return errno_error("fork");
    return pid;
  }
  // unshare/setns(CLONE_NEWPID) change only where the caller's next
  // children go; a pidfd of ourselves takes that back after the fork.
  UniqueFd self = pidfd_of(::getpid());
  if (!self) return errno_error("pidfd_open of the agent");
  if (target.create) {
    if (::unshare(CLONE_NEWPID) < 0) return errno_error("unshare PID namespace");
  } else {
    UniqueFd joined = pidfd_of(target.join);
    if (!joined) return errno_error("pidfd_open of the container process");
    if (::setns(joined.get(), CLONE_NEWPID) < 0)
      return errno_error("joining the container's PID namespace");
  }
  pid_t pid = ::fork();
  if (pid == 0) return 0;
  int fork_errno = errno;
  if (::setns(self.get(), CLONE_NEWPID) < 0) {
    // Every later container and exec would land in that namespace: the
    // agent cannot go on correctly. Never seen: it is our own namespace.
    ::_exit(121);
  }
  if (pid < 0) {
    errno = fork_errno;
    return errno_error("fork");
  }
  return pid;
}

}  // namespace runvm::agent
