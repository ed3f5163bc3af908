// `runvm start`: let a created container's process run.
#include <getopt.h>

#include <cstdio>

#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/verbs.h"

namespace runvm::cli {

Result<int> verb_start(GlobalOptions& g, int argc, char** argv) {
  static const option opts[] = {{"help", no_argument, nullptr, 'h'}, {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, nullptr)) != -1) {
    if (c == 'h') {
      printf("usage: runvm start CONTAINER_ID\n\nStarts the process of a created container.\n");
      return 0;
    }
    return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  g.subject = argv[optind];
  auto ct = RUNVM_TRY(load_container(g, argv[optind]));
  auto lock = RUNVM_TRY(ct.dir.lock());
  switch (ct.state.status) {
    case oci::Status::kCreated:
      break;
    case oci::Status::kStopped:
      return make_error("cannot start a container that has stopped");
    case oci::Status::kRunning:
      return make_error("cannot start an already running container");
    default:
      return make_error("cannot start a container in the " +
                        std::string(oci::to_string(ct.state.status)) + " state");
  }
  RUNVM_CHECK(start_with_hooks(ct));
  return 0;
}

}  // namespace runvm::cli
