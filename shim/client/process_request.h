// The agent's view of an OCI process (the container's main one or an exec'd
// one): the shim sends it in the create request, `runvm exec` in its exec
// request.
#pragma once

#include "guest/protocol/container_messages.h"
#include "spec/config.h"

namespace runvm {

Result<proto::Process> make_process(const oci::Process& p);

}  // namespace runvm
