// Which network the container's VM gets, from config.json (issue 10):
//  - linux.namespaces has "network" with a path (Podman's netavark, CNI,
//    any runc user): the VM takes that namespace over (TapBridge);
//  - "network" without a path (a new, empty namespace, as `runvm spec`
//    writes): loopback only, as runc would give;
//  - no "network" entry (runc's host network): a VM cannot share the
//    host's stack; loopback only, with a warning.
#pragma once

#include <optional>

#include "shim/engine/engine.h"
#include "shim/net/pool_nic.h"
#include "shim/net/tap_bridge.h"
#include "spec/config.h"

namespace runvm::net {

// Nullopt: loopback only. Errors are the namespace's (open_netns,
// TapBridge::attach): one line, nothing left behind.
Result<std::optional<TapBridge>> attach_container_network(const oci::Config& config);

// The same choice for a pool unit's claimer (pool_nic.h): its namespace's
// interface gets the unit's tap (PoolNic::claim).
Result<std::optional<TapBridge>> claim_container_network(const oci::Config& config, PoolNic& nic);

// QEMU's devices for the bridge's taps (VmConfig::taps).
std::vector<TapDevice> tap_devices(const TapBridge& bridge);

}  // namespace runvm::net
