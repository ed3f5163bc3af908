// `runvm state`: the container's state as runc prints it.
#include <cstdio>

#include "runtime/container.h"
#include "runtime/verb_args.h"
#include "runtime/verbs.h"

namespace runvm::cli {

Result<int> verb_state(GlobalOptions& g, int argc, char** argv) {
  auto id = RUNVM_TRY(parse_id_only(
      g, argc, argv, "usage: runvm state CONTAINER_ID\n\nPrints the container's state as JSON.\n"));
  if (!id) return 0;
  auto ct = RUNVM_TRY(load_container(g, *id));
  printf("%s\n", oci::state_json(ct.state).c_str());
  return 0;
}

}  // namespace runvm::cli
