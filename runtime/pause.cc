// `runvm pause`: freeze every process of a container by stopping its
// microVM's vCPUs (QMP stop, through the shim).
#include <cstdio>

#include "runtime/container.h"
#include "runtime/verb_args.h"
#include "runtime/verbs.h"

namespace runvm::cli {

Result<int> verb_pause(GlobalOptions& g, int argc, char** argv) {
  auto id =
      RUNVM_TRY(parse_id_only(g, argc, argv,
                              "usage: runvm pause CONTAINER_ID\n\n"
                              "Suspends all processes of the container by pausing its microVM\n"
                              "(a pod member: by freezing its cgroup in the guest).\n"));
  if (!id) return 0;
  auto ct = RUNVM_TRY(load_container(g, *id));
  auto lock = RUNVM_TRY(ct.dir.lock());
  // runc pauses created and running containers only (libcontainer Pause).
  if (ct.state.status != oci::Status::kRunning && ct.state.status != oci::Status::kCreated)
    return make_error("container not running");
  RUNVM_CHECK(shim_request(ct, control::Pause{}));
  return 0;
}

}  // namespace runvm::cli
