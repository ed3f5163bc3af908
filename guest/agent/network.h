// The guest's network, set up as the container's namespace on the host was
// (PROTOCOL.md, "Network"): lo up, then each interface found by its MAC
// among the VM's virtio-net devices, renamed, given its MTU and addresses
// and brought up, then the routes. With libnl-route, linked statically.
#pragma once

#include "guest/protocol/network_messages.h"
#include "spec/base/result.h"

namespace runvm::agent {

// Applies `net` in the calling thread's network namespace. Errors name the
// interface or route.
Status configure_network(const proto::NetworkConfig& net);

}  // namespace runvm::agent
