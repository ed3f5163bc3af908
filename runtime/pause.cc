// `runvm pause`: freeze every process of a container by stopping its
// microVM's vCPUs (QMP stop, through the shim).
#include <getopt.h>

#include <cstdio>

#include "runtime/container.h"
#include "runtime/verbs.h"

namespace runvm::cli {

Result<int> verb_pause(GlobalOptions& g, int argc, char** argv) {
  static const option opts[] = {{"help", no_argument, nullptr, 'h'}, {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, nullptr)) != -1) {
    if (c == 'h') {
      printf(
          "usage: runvm pause CONTAINER_ID\n\n"
          "Suspends all processes of the container by pausing its microVM.\n");
      return 0;
    }
    return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  g.subject = argv[optind];
  auto ct = RUNVM_TRY(load_container(g, argv[optind]));
  auto lock = RUNVM_TRY(ct.dir.lock());
  // runc pauses created and running containers only (libcontainer Pause).
  if (ct.state.status != oci::Status::kRunning && ct.state.status != oci::Status::kCreated)
    return make_error("container not running");
  RUNVM_CHECK(shim_request(ct, "pause"));
  return 0;
}

}  // namespace runvm::cli
