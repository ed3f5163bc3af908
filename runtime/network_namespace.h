// The network namespace the shim, and so QEMU, runs in, chosen at create
// from config.json (man/runvm.8 NETWORK):
//   - a "network" entry with a path: that namespace (namespace_paths.h);
//   - a "network" entry without a path: a fresh, empty one, as runc gives
//     the container's process. /proc/<pid>/ns/net then names the
//     container's own namespace, so whoever configures it by that pid after
//     create (`ctr run --cni`, a hook as Docker's) never touches the host's;
//   - no entry: the host's (runc's host network; the guest has loopback only).
// A VM's interfaces are fixed once it has booted (virtio-mmio has no
// hotplug), so start refuses a fresh namespace that gained interfaces
// after create instead of running the container without that network.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/container_dir.h"
#include "spec/config.h"

namespace runvm::cli {

bool wants_fresh_netns(const oci::Config& config);

// The interface names of a /proc/<pid>/net/dev text, in its order.
std::vector<std::string> parse_net_dev(std::string_view text);

// How many Ethernet interfaces (veths, macvlans, a tap...) the network
// namespace `netns_fd` has: those the VM would get a NIC for. Loopback and
// the kernel's fallback tunnels (sit0, tunl0...) are none. Read in a child
// that joins it, as a socket's ioctls answer for the caller's namespace.
Result<int> netns_ethernet_count(int netns_fd);

// Records the shim's interfaces (those of a fresh namespace: lo and the
// kernel's fallback tunnels) in the state dir, before any hook runs.
Status save_netns_interfaces(const ContainerDir& dir, pid_t shim);

// Fails when the shim's namespace has an interface it had not at create.
// No record (a joined or the host's namespace), or a shim already gone (the
// start request reports that): nothing to check.
Status check_netns_unchanged(const ContainerDir& dir, pid_t shim);

}  // namespace runvm::cli
