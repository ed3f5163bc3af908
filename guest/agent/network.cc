#include "guest/agent/network.h"

#include <fcntl.h>
#include <linux/if_arp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "guest/agent/trace.h"
#include "spec/base/netlink.h"

namespace runvm::agent {
namespace {

// The ifindex of the Ethernet link with this MAC; error when none.
Result<int> find_by_mac(nl_cache* links, const proto::MacAddress& mac) {
  int found = 0;
  nl::for_each<rtnl_link>(links, [&](rtnl_link* l) {
    nl_addr* a = rtnl_link_get_addr(l);
    if (!found && a && rtnl_link_get_arptype(l) == ARPHRD_ETHER && nl_addr_get_len(a) == 6 &&
        std::memcmp(nl_addr_get_binary_addr(a), mac.data(), 6) == 0)
      found = rtnl_link_get_ifindex(l);
  });
  if (!found) return make_error("no network device with MAC " + proto::mac_to_string(mac));
  return found;
}

// Where devices the message does not name go (hide_unnamed): a network
// namespace of the agent's own, made once and held for the guest's life (a
// namespace that dies hands its physical devices back to the initial one),
// with a netlink socket in it. Made on the calling thread, which then
// returns to its namespace.
struct Parking {
  UniqueFd ns;
  nl::Socket sock;
};

Parking& parking() {
  static Parking p;
  return p;
}

Result<Parking*> open_parking() {
  Parking& p = parking();
  if (p.ns) return &p;
  UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!self) return errno_error("open /proc/thread-self/ns/net");
  if (::unshare(CLONE_NEWNET) != 0) return errno_error("unshare network namespace");
  UniqueFd fresh(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  Status opened = fresh ? Status{} : Status(errno_error("open the parking network namespace"));
  auto sock = nl::connect_route();
  if (::setns(self.get(), CLONE_NEWNET) != 0) return errno_error("setns back");
  RUNVM_CHECK(std::move(opened));
  if (!sock.ok()) return std::move(sock).error();
  p.ns = std::move(fresh);
  p.sock = std::move(*sock);
  return &p;
}

// Devices an earlier message parked come back when this one names them.
Status unpark(const proto::NetworkConfig& net) {
  Parking& p = parking();
  if (!p.ns) return {};
  nl::Cache parked = RUNVM_TRY(nl::link_cache(p.sock.get()));
  UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!self) return errno_error("open /proc/thread-self/ns/net");
  for (const auto& iface : net.interfaces) {
    auto index = find_by_mac(parked.get(), iface.device_mac.value_or(iface.mac));
    if (index.ok())
      RUNVM_CHECK(nl::change_link(p.sock.get(), *index, {.netns_fd = self.get()})
                      .context(iface.name + ": bringing the device back"));
  }
  return {};
}

// Moves the Ethernet devices not in `named` out of the guest's namespace.
Status hide_unnamed(nl_sock* sock, const std::vector<int>& named) {
  nl::Cache links = RUNVM_TRY(nl::link_cache(sock));
  std::vector<std::pair<int, std::string>> others;
  nl::for_each<rtnl_link>(links.get(), [&](rtnl_link* l) {
    int index = rtnl_link_get_ifindex(l);
    const char* name = rtnl_link_get_name(l);
    if (rtnl_link_get_arptype(l) == ARPHRD_ETHER &&
        std::find(named.begin(), named.end(), index) == named.end())
      others.emplace_back(index, name ? name : "?");
  });
  if (others.empty()) return {};
  Parking* p = RUNVM_TRY(open_parking());
  for (const auto& [index, name] : others)
    RUNVM_CHECK(nl::change_link(sock, index, {.up = false, .netns_fd = p->ns.get()})
                    .context("hiding " + name));
  return {};
}

}  // namespace

Status configure_network(const proto::NetworkConfig& net) {
  trace::mark("net_begin");
  nl::Socket sock = RUNVM_TRY(nl::connect_route());
  int lo = RUNVM_TRY(nl::ifindex_of(sock.get(), "lo"));
  RUNVM_CHECK(nl::change_link(sock.get(), lo, {.up = true}).context("lo"));
  trace::mark("net_lo_up");
  RUNVM_CHECK(unpark(net));
  trace::mark("net_unparked");
  nl::Cache links = RUNVM_TRY(nl::link_cache(sock.get()));
  std::vector<int> indexes;
  // A pool unit's NIC was booted with a MAC of its own (device_mac): found
  // by it, and given the container's while down.
  for (const auto& iface : net.interfaces)
    indexes.push_back(RUNVM_TRY(
        find_by_mac(links.get(), iface.device_mac.value_or(iface.mac)).context(iface.name)));
  // What each device is now: a device already named and sized as the
  // container's interface (the guest kernel's eth0 for a Podman eth0, MTU
  // 1500) is neither renamed nor resized. Under TCG each rename or MTU
  // change costs milliseconds of guest time (the kernel re-registers the
  // device's sysfs and its IPv4, IPv6 and neighbour sysctl tables), and the
  // two-step rename did it twice.
  std::vector<std::string> names(indexes.size());
  std::vector<uint32_t> mtus(indexes.size());
  for (size_t i = 0; i < indexes.size(); ++i) {
    nl::Link l(rtnl_link_get(links.get(), indexes[i]));
    const char* name = l ? rtnl_link_get_name(l.get()) : nullptr;
    names[i] = name ? name : "";
    mtus[i] = l ? rtnl_link_get_mtu(l.get()) : 0;
  }
  // Renamed in two steps, so that a device the kernel named like another
  // interface of the message ("eth0" for what must become "eth1") is out of
  // the way first. A link must be down to be renamed, or to change its MAC.
  for (size_t i = 0; i < indexes.size(); ++i) {
    const auto& iface = net.interfaces[i];
    nl::LinkChange aside{.up = false};
    if (names[i] != iface.name) aside.name = "runvm-net" + std::to_string(i);
    if (iface.device_mac && *iface.device_mac != iface.mac) aside.mac = iface.mac;
    if (aside.name || aside.mac)
      RUNVM_CHECK(nl::change_link(sock.get(), indexes[i], aside).context(iface.name));
  }
  trace::mark("net_aside");
  for (size_t i = 0; i < indexes.size(); ++i) {
    const auto& iface = net.interfaces[i];
    nl::LinkChange change;
    if (names[i] != iface.name) {
      // A device the message does not name may hold the name: it moves aside.
      if (auto holder = nl::ifindex_of(sock.get(), iface.name); holder.ok())
        RUNVM_CHECK(nl::change_link(sock.get(), *holder,
                                    {.name = "runvm-x" + std::to_string(*holder), .up = false})
                        .context(iface.name));
      change.name = iface.name;
    }
    if (mtus[i] != iface.mtu) change.mtu = iface.mtu;
    if (change.name || change.mtu)
      RUNVM_CHECK(nl::change_link(sock.get(), indexes[i], change).context(iface.name));
    trace::mark("net_named");
    for (const auto& a : iface.addresses)
      RUNVM_CHECK(
          nl::add_address(sock.get(), indexes[i], a.address, a.prefix_len).context(iface.name));
    trace::mark("net_addressed");
    RUNVM_CHECK(nl::change_link(sock.get(), indexes[i], {.up = true}).context(iface.name));
    trace::mark("net_up");
  }
  if (net.hide_unnamed) RUNVM_CHECK(hide_unnamed(sock.get(), indexes));
  trace::mark("net_hidden");
  for (const auto& r : net.routes) {
    int ifindex = RUNVM_TRY(nl::ifindex_of(sock.get(), r.device));
    RUNVM_CHECK(nl::add_route(sock.get(), ifindex, r.destination.address, r.destination.prefix_len,
                              r.gateway, r.metric)
                    .context("route via " + r.device));
  }
  trace::mark("net_routed");
  return {};
}

}  // namespace runvm::agent
