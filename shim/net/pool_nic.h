// A pool unit's network device (issue 14, runvm-pool(8)). A unit's VM boots
// before its container is known, and virtio-mmio has no hot-plug: it boots
// with one virtio-net device on a tap of its own, made in the unit's own
// network namespace (runvm-shim --pool unshares one at its start: nothing
// is made in the host's, and the tap and the namespace go with the unit's
// processes whatever way they end), with a random locally administered MAC.
//
// At the claim the tap moves into the container's namespace (a tap's fd,
// QEMU's copy too, stays valid across a move) and is joined to the
// namespace's one interface as a cold start's tap is (TapBridge::adopt);
// the guest then gives its device the interface's MAC (PROTOCOL.md,
// configure_network's device_mac). A container whose namespace has more
// than one interface is never claimed (the CLI's rule, pool.h).
#pragma once

#include <optional>
#include <string>

#include "shim/engine/engine.h"
#include "shim/net/tap_bridge.h"
#include "spec/base/netlink.h"

namespace runvm::net {

class PoolNic {
 public:
  // The tap, in the calling thread's network namespace (the unit's own).
  static Result<PoolNic> open();

  // QEMU's device (VmConfig::taps).
  TapDevice device() const;
  const proto::MacAddress& mac() const { return mac_; }

  // The claim: TapBridge::adopt of the namespace at `netns_path` with this
  // tap (the calling thread joins that namespace). nullopt: the namespace
  // has no interface, and the tap stays where it is, unused.
  Result<std::optional<TapBridge>> claim(const std::string& netns_path);

 private:
  PoolNic() = default;
  UniqueFd fd_;
  proto::MacAddress mac_{};
  nl::Socket home_;  // NETLINK_ROUTE in the unit's namespace: moves the tap out
  int ifindex_ = 0;  // the tap's, there
};

}  // namespace runvm::net
