// `runvm checkpoint` and `runvm restore`: not supported. runc drives CRIU
// on host processes; a runvm container's processes live in a guest kernel
// CRIU cannot see, so both verbs fail with one clear line.
#include <cstdio>
#include <cstring>

#include "runtime/verbs.h"

namespace runvm::cli {

namespace {

bool wants_help(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return true;
  return false;
}

// main prefixes the verb: "runvm: checkpoint: not supported: ...".
Result<int> unsupported(const char* verb, int argc, char** argv) {
  if (wants_help(argc, argv)) {
    printf(
        "usage: runvm %s [options] CONTAINER_ID\n\n"
        "Not supported: runvm containers run in their own microVM, which CRIU\n"
        "cannot checkpoint. runc's options are accepted and the command fails.\n",
        verb);
    return 0;
  }
  return make_error("not supported: CRIU cannot checkpoint a microVM");
}

}  // namespace

Result<int> verb_checkpoint(GlobalOptions&, int argc, char** argv) {
  return unsupported("checkpoint", argc, argv);
}

Result<int> verb_restore(GlobalOptions&, int argc, char** argv) {
  return unsupported("restore", argc, argv);
}

}  // namespace runvm::cli
