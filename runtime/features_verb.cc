// `runvm features`: what this runtime supports (runtime-spec features.md).
#include <getopt.h>

#include <cstdio>

#include "runtime/verbs.h"
#include "spec/features.h"

namespace runvm::cli {

Result<int> verb_features(GlobalOptions&, int argc, char** argv) {
  static const option opts[] = {{"help", no_argument, nullptr, 'h'}, {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, nullptr)) != -1) {
    if (c == 'h') {
      printf("usage: runvm features\n\nPrints the runtime's features as JSON.\n");
      return 0;
    }
    return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  printf("%s\n", oci::features_json().c_str());
  return 0;
}

}  // namespace runvm::cli
