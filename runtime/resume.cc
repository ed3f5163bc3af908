// `runvm resume`: let a paused container's microVM run again.
#include <cstdio>

#include "runtime/container.h"
#include "runtime/verb_args.h"
#include "runtime/verbs.h"

namespace runvm::cli {

Result<int> verb_resume(GlobalOptions& g, int argc, char** argv) {
  auto id = RUNVM_TRY(parse_id_only(g, argc, argv,
                                    "usage: runvm resume CONTAINER_ID\n\n"
                                    "Resumes all processes of a paused container.\n"));
  if (!id) return 0;
  auto ct = RUNVM_TRY(load_container(g, *id));
  auto lock = RUNVM_TRY(ct.dir.lock());
  if (ct.state.status != oci::Status::kPaused) return make_error("container not paused");
  RUNVM_CHECK(shim_request(ct, control::Resume{}));
  return 0;
}

}  // namespace runvm::cli
