// The VM takes over a container's network namespace (Kata's tc-mirred
// model): for each interface there (netns_reader.h), a tap in the same
// namespace, and the two joined by an ingress qdisc with a u32 match-all
// filter and a mirred egress redirect on each, so whatever arrives on the
// interface leaves through the tap to QEMU and the other way round. The
// namespace's own stack never sees a packet of the interface again.
//
// RAII: destroying the TapBridge removes the filters, qdiscs and taps. A
// shim killed with SIGKILL leaves its ingress qdiscs on the interfaces (its
// taps vanish with their last fd); attach() replaces them, and deletes a
// leftover tap of ours, so the next container in that namespace starts.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "guest/protocol/network_messages.h"
#include "spec/base/netlink.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::net {

struct Tap {
  std::string interface;  // the namespace's interface it stands for ("eth0")
  std::string name;       // the tap's own name ("tap0_runvm")
  int ifindex = 0;        // the tap's, in the container's namespace
  proto::MacAddress mac;  // the interface's: QEMU's virtio-net-device gets it
  UniqueFd fd;            // /dev/net/tun, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, close-on-exec
};

class TapBridge {
 public:
  TapBridge(TapBridge&&) = default;
  TapBridge& operator=(TapBridge&& o) noexcept;
  ~TapBridge();

  // Reads the namespace at `netns_path` and connects a tap to each of its
  // interfaces. On failure nothing it made is left behind.
  static Result<TapBridge> attach(const std::string& netns_path);

  // A pool unit's claim (pool_nic.h): the calling thread joins the
  // namespace at `netns_path` for good, as a cold start's shim runs in it
  // (so /proc/<pid>/ns/net names it, and another container's attach sees
  // the tap held: tap_holder.h). Its one interface is joined to the tap
  // `move` brings into the namespace (given the namespace's fd) as
  // attach() joins its own; network() then names the tap's MAC as the
  // interface's device_mac, which the guest's device was booted with.
  // nullopt: no interface (loopback only; `move` is not called). More
  // than one is an error: a unit's VM has one NIC. On failure nothing it
  // made in the namespace is left behind.
  static Result<std::optional<TapBridge>> adopt(const std::string& netns_path,
                                                const std::function<Result<Tap>(int)>& move);

  // What the guest must configure (interfaces in the order of taps()).
  const proto::NetworkConfig& network() const { return network_; }
  const std::vector<Tap>& taps() const { return taps_; }

  // Tap name for the i-th interface.
  static std::string tap_name(size_t i);

 private:
  TapBridge() = default;
  void detach();
  // Joins the i-th interface (ifindex `ifindex`) and taps_[i]: MTU, up,
  // ingress qdiscs and the two redirects.
  Status join(size_t i, int ifindex);

  std::string path_;
  nl::Socket sock_;  // NETLINK_ROUTE in the container's namespace
  proto::NetworkConfig network_;
  std::vector<Tap> taps_;
  std::vector<int> interface_ifindexes_;  // with a qdisc of ours, to remove
};

}  // namespace runvm::net
