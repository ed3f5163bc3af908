#include "spec/base/wait_status.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

namespace runvm {

int become_wait_status(int wait_status) {
  if (!WIFSIGNALED(wait_status)) return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 1;
  int sig = WTERMSIG(wait_status);
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(sig, SIG_DFL);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  sigprocmask(SIG_UNBLOCK, &s, nullptr);
  raise(sig);
  return 128 + sig;
}

}  // namespace runvm
