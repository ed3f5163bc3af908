// What a container's network namespace gives it, read with libnl-route: its
// Ethernet interfaces other than lo (name, MAC, MTU, addresses) and the
// routes of its main table, in the protocol's types, so the guest can be
// configured the same (guest/protocol/network_messages.h).
#pragma once

#include <netlink/socket.h>

#include <string>

#include "guest/protocol/network_messages.h"
#include "spec/base/result.h"

namespace runvm::net {

// Left out, as the guest kernel makes them itself or they are not the
// container's: loopback, non-Ethernet links (sit0, tunl0...), taps (ours,
// or a stale one of a killed shim), IPv6 link-local addresses, routes of
// protocol kernel, routes outside the main table, non-unicast routes and
// routes through a link left out. More than kMaxInterfaces interfaces, or
// more than the protocol's limits of addresses or routes, is an error.
Result<proto::NetworkConfig> read_network(nl_sock* sock);

// The same for the namespace at `path` (open_netns's errors).
Result<proto::NetworkConfig> read_netns(const std::string& path);

}  // namespace runvm::net
