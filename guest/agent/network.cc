#include "guest/agent/network.h"

#include <linux/if_arp.h>

#include <cstring>

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

}  // namespace

Status configure_network(const proto::NetworkConfig& net) {
  nl::Socket sock = RUNVM_TRY(nl::connect_route());
  int lo = RUNVM_TRY(nl::ifindex_of(sock.get(), "lo"));
  RUNVM_CHECK(nl::change_link(sock.get(), lo, {.up = true}).context("lo"));

  nl::Cache links = RUNVM_TRY(nl::link_cache(sock.get()));
  std::vector<int> indexes;
  // A pool unit's NIC was booted with a MAC of its own (device_mac): found
  // by it, and given the container's while down.
  for (const auto& iface : net.interfaces)
    indexes.push_back(RUNVM_TRY(
        find_by_mac(links.get(), iface.device_mac.value_or(iface.mac)).context(iface.name)));
  // Renamed in two steps, so that a device the kernel named like another
  // interface of the message ("eth0" for what must become "eth1") is out of
  // the way first. A link must be down to be renamed.
  for (size_t i = 0; i < indexes.size(); ++i) {
    const auto& iface = net.interfaces[i];
    nl::LinkChange aside{.name = "runvm-net" + std::to_string(i), .up = false};
    if (iface.device_mac && *iface.device_mac != iface.mac) aside.mac = iface.mac;
    RUNVM_CHECK(nl::change_link(sock.get(), indexes[i], aside).context(iface.name));
  }
  for (size_t i = 0; i < indexes.size(); ++i) {
    const auto& iface = net.interfaces[i];
    // A device the message does not name may hold the name: it moves aside.
    if (auto holder = nl::ifindex_of(sock.get(), iface.name); holder.ok())
      RUNVM_CHECK(nl::change_link(sock.get(), *holder,
                                  {.name = "runvm-x" + std::to_string(*holder), .up = false})
                      .context(iface.name));
    RUNVM_CHECK(nl::change_link(sock.get(), indexes[i], {.name = iface.name, .mtu = iface.mtu})
                    .context(iface.name));
    for (const auto& a : iface.addresses)
      RUNVM_CHECK(
          nl::add_address(sock.get(), indexes[i], a.address, a.prefix_len).context(iface.name));
    RUNVM_CHECK(nl::change_link(sock.get(), indexes[i], {.up = true}).context(iface.name));
  }
  for (const auto& r : net.routes) {
    int ifindex = RUNVM_TRY(nl::ifindex_of(sock.get(), r.device));
    RUNVM_CHECK(nl::add_route(sock.get(), ifindex, r.destination.address, r.destination.prefix_len,
                              r.gateway, r.metric)
                    .context("route via " + r.device));
  }
  return {};
}

}  // namespace runvm::agent
