// `runvm state`: the container's state as runc prints it.
#include <getopt.h>

#include <cstdio>

#include "runtime/container.h"
#include "runtime/verbs.h"

namespace runvm::cli {

Result<int> verb_state(GlobalOptions& g, int argc, char** argv) {
  static const option opts[] = {{"help", no_argument, nullptr, 'h'}, {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, nullptr)) != -1) {
    if (c == 'h') {
      printf("usage: runvm state CONTAINER_ID\n\nPrints the container's state as JSON.\n");
      return 0;
    }
    return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  g.subject = argv[optind];
  auto ct = RUNVM_TRY(load_container(g, argv[optind]));
  printf("%s\n", oci::state_json(ct.state).c_str());
  return 0;
}

}  // namespace runvm::cli
