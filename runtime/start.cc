// `runvm start`: let a created container's process run.
#include <cstdio>

#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/verb_args.h"
#include "runtime/verbs.h"

namespace runvm::cli {

Result<int> verb_start(GlobalOptions& g, int argc, char** argv) {
  auto id = RUNVM_TRY(parse_id_only(
      g, argc, argv,
      "usage: runvm start CONTAINER_ID\n\nStarts the process of a created container.\n"));
  if (!id) return 0;
  // Under the lock: a `create` in progress finishes first.
  auto locked = RUNVM_TRY(lock_container(g, *id));
  auto& ct = locked.ct;
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
