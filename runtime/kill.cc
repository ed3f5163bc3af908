// `runvm kill`: send a signal to the container's process (inside the VM).
#include <getopt.h>
#include <signal.h>

#include <cstdio>
#include <optional>

#include "runtime/container.h"
#include "runtime/verbs.h"

namespace runvm::cli {

Result<int> verb_kill(GlobalOptions& g, int argc, char** argv) {
  bool all = false;
  static const option opts[] = {{"all", no_argument, nullptr, 'a'},
                                {"help", no_argument, nullptr, 'h'},
                                {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "ah", opts, nullptr)) != -1) {
    if (c == 'a') {
      all = true;
      continue;
    }
    if (c == 'h') {
      printf(
          "usage: runvm kill [--all] CONTAINER_ID [SIGNAL]\n\n"
          "Sends SIGNAL (name or number, default SIGTERM) to the container's process;\n"
          "--all sends it to every process in the container's VM.\n");
      return 0;
    }
    return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  int nargs = argc - optind;
  if (nargs < 1 || nargs > 2)
    return make_error("requires one or two arguments: CONTAINER_ID [SIGNAL]");
  g.subject = argv[optind];
  int sig = nargs == 2 ? RUNVM_TRY(parse_signal(argv[optind + 1])) : SIGTERM;
  auto ct = RUNVM_TRY(load_container(g, argv[optind]));
  // Its shim is not up before `create` is done: wait for that (the lock),
  // then signal what it made. Other states need no lock to be signalled.
  std::optional<LockedContainer> locked;
  if (ct.state.status == oci::Status::kCreating) {
    locked.emplace(RUNVM_TRY(lock_container(g, argv[optind])));
    ct = locked->ct;
  }
  if (ct.state.status == oci::Status::kStopped) {
    // As runc: --all on a stopped container succeeds, there being nothing
    // left to signal (its VM, or a pod member's PID namespace in its pod's
    // VM, ended with its process). containerd's runc shim sends it when it
    // deletes an exited task, and cannot tell our error from a failure.
    if (all) return 0;
    return make_error("container not running");
  }
  // Signal 0 (runc's liveness probe) asks only that: the shim standing for
  // the process is alive, or the status would read stopped.
  if (sig == 0) return 0;
  RUNVM_CHECK(shim_request(ct, control::Kill{sig, all}));
  return 0;
}

}  // namespace runvm::cli
