#include "runtime/verb_args.h"

#include <getopt.h>

#include <cstdio>

namespace runvm::cli {

Result<std::optional<std::string>> parse_id_only(GlobalOptions& g, int argc, char** argv,
                                                 const char* usage) {
  static const option opts[] = {{"help", no_argument, nullptr, 'h'}, {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, nullptr)) != -1) {
    if (c == 'h') {
      fputs(usage, stdout);
      return std::optional<std::string>();
    }
    return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  g.subject = argv[optind];
  return std::optional<std::string>(argv[optind]);
}

}  // namespace runvm::cli
