// `runvm create`: boot the container's VM and create its process, stopped
// before exec until `runvm start`.
#include <getopt.h>

#include <cstdio>

#include "runtime/launch.h"
#include "runtime/verbs.h"

namespace runvm::cli {

namespace {
void create_usage(FILE* out) {
  fprintf(out,
          "usage: runvm create [options] CONTAINER_ID\n\n"
          "Boots the container's microVM and creates its process; `runvm start` runs it.\n\n"
          "  -b, --bundle DIR        bundle directory (default: current directory)\n"
          "  --pid-file FILE         write the container's pid (the shim's) to FILE\n"
          "  --console-socket PATH   receive the terminal's master fd (terminal: true)\n"
          "  --no-pivot, --no-new-keyring  accepted for runc compatibility\n"
          "  --preserve-fds N        pass N extra fds (3..) to the container\n");
}
}  // namespace

// Shared by create and run: runc's create flags.
Result<bool> parse_create_flag(int c, CreateOptions& o) {
  switch (c) {
    case 'b':
      o.bundle = optarg;
      return true;
    case 'p':
      o.pid_file = optarg;
      return true;
    case 'c':
      o.console_socket = optarg;
      return true;
    case 'f':
      o.preserve_fds = atoi(optarg);
      return true;
    case 'n':
      return true;  // --no-pivot, --no-new-keyring: nothing to do in a VM
    default:
      return false;
  }
}

Result<int> verb_create(GlobalOptions& g, int argc, char** argv) {
  CreateOptions o;
  static const option opts[] = {
      {"bundle", required_argument, nullptr, 'b'},
      {"pid-file", required_argument, nullptr, 'p'},
      {"console-socket", required_argument, nullptr, 'c'},
      {"preserve-fds", required_argument, nullptr, 'f'},
      {"no-pivot", no_argument, nullptr, 'n'},
      {"no-new-keyring", no_argument, nullptr, 'n'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "b:h", opts, nullptr)) != -1) {
    if (c == 'h') {
      create_usage(stdout);
      return 0;
    }
    if (!RUNVM_TRY(parse_create_flag(c, o)))
      return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  o.id = argv[optind];
  g.subject = o.id;
  RUNVM_TRY(create_container(g, o));
  return 0;
}

}  // namespace runvm::cli
