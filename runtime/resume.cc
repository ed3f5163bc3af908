// `runvm resume`: let a paused container's microVM run again.
#include <getopt.h>

#include <cstdio>

#include "runtime/container.h"
#include "runtime/verbs.h"

namespace runvm::cli {

Result<int> verb_resume(GlobalOptions& g, int argc, char** argv) {
  static const option opts[] = {{"help", no_argument, nullptr, 'h'}, {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, nullptr)) != -1) {
    if (c == 'h') {
      printf(
          "usage: runvm resume CONTAINER_ID\n\n"
          "Resumes all processes of a paused container.\n");
      return 0;
    }
    return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  g.subject = argv[optind];
  auto ct = RUNVM_TRY(load_container(g, argv[optind]));
  auto lock = RUNVM_TRY(ct.dir.lock());
  if (ct.state.status != oci::Status::kPaused) return make_error("container not paused");
  RUNVM_CHECK(shim_request(ct, "resume"));
  return 0;
}

}  // namespace runvm::cli
