// `runvm run`: create and start a container; without --detach, wait for it
// and exit the way its process did.
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/launch.h"
#include "runtime/verbs.h"
#include "spec/base/wait_status.h"

namespace runvm::cli {

Result<bool> parse_create_flag(int c, CreateOptions& o);  // create.cc

namespace {

void run_usage(FILE* out) {
  fprintf(out,
          "usage: runvm run [options] CONTAINER_ID\n\n"
          "Creates and starts a container in its own microVM.\n\n"
          "  -b, --bundle DIR        bundle directory (default: current directory)\n"
          "  -d, --detach            return once started\n"
          "  --pid-file FILE         write the container's pid (the shim's) to FILE\n"
          "  --console-socket PATH   receive the terminal's master fd (terminal: true)\n"
          "  --keep                  do not delete the container after it exits\n"
          "  --no-pivot, --no-new-keyring  accepted for runc compatibility\n"
          "  --preserve-fds N        pass N extra fds (3..) to the container\n");
}

// Waits for the shim, passing on signals sent to us (not those the terminal
// sent to the whole foreground group: the shim got those itself).
Result<int> wait_forwarding(pid_t shim) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD})
    sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  while (true) {
    int status;
    pid_t r = waitpid(shim, &status, WNOHANG);
    if (r == shim) return status;
    if (r < 0 && errno != EINTR) return errno_error("wait for shim");
    siginfo_t si;
    timespec tick{0, 200 * 1000 * 1000};
    int sig = sigtimedwait(&set, &si, &tick);
    if (sig > 0 && sig != SIGCHLD && si.si_code != SI_KERNEL) kill(shim, sig);
  }
}

}  // namespace

Result<int> verb_run(GlobalOptions& g, int argc, char** argv) {
  CreateOptions o;
  bool detach = false, keep = false;
  static const option opts[] = {
      {"bundle", required_argument, nullptr, 'b'},
      {"pid-file", required_argument, nullptr, 'p'},
      {"console-socket", required_argument, nullptr, 'c'},
      {"preserve-fds", required_argument, nullptr, 'f'},
      {"no-pivot", no_argument, nullptr, 'n'},
      {"no-new-keyring", no_argument, nullptr, 'n'},
      {"detach", no_argument, nullptr, 'd'},
      {"keep", no_argument, nullptr, 'k'},
      {"no-subreaper", no_argument, nullptr, 'n'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "b:dh", opts, nullptr)) != -1) {
    if (c == 'h') {
      run_usage(stdout);
      return 0;
    }
    if (c == 'd') {
      detach = true;
      continue;
    }
    if (c == 'k') {
      keep = true;
      continue;
    }
    if (!RUNVM_TRY(parse_create_flag(c, o)))
      return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  o.id = argv[optind];
  g.subject = o.id;
  pid_t shim = RUNVM_TRY(create_container(g, o));
  auto ct = RUNVM_TRY(load_container(g, o.id));
  auto started = start_with_hooks(ct);
  if (!started.ok()) {
    kill(shim, SIGKILL);
    waitpid(shim, nullptr, 0);
    (void)ct.dir.remove();
    return std::move(started).error();
  }
  if (detach) return 0;

  int status = RUNVM_TRY(wait_forwarding(shim));
  if (!keep) {
    auto hooks = load_hooks(ct.dir);
    (void)ct.dir.remove();
    if (hooks.ok()) run_poststop_hooks(ct, *hooks);
  }
  return become_wait_status(status);  // the same wait status as the process, as runc
}

}  // namespace runvm::cli
