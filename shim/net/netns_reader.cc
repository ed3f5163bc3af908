#include "shim/net/netns_reader.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <map>

#include "spec/base/netlink.h"

namespace runvm::net {
namespace {

// The canonical text of an nl_addr of family AF_INET/AF_INET6 (a default
// route's destination has no bytes: all zeros).
Result<proto::IpPrefix> to_prefix(nl_addr* a) {
  int family = nl_addr_get_family(a);
  if (family != AF_INET && family != AF_INET6) return make_error("not an IP address");
  size_t want = family == AF_INET ? 4 : 16;
  unsigned char bytes[16] = {};
  size_t len = nl_addr_get_len(a);
  if (len != 0 && len != want) return make_error("malformed address");
  if (len) std::memcpy(bytes, nl_addr_get_binary_addr(a), len);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family, bytes, text, sizeof text);
  return proto::IpPrefix{family == AF_INET ? proto::IpFamily::kIpv4 : proto::IpFamily::kIpv6, text,
                         static_cast<uint8_t>(nl_addr_get_prefixlen(a))};
}

bool is_tap(rtnl_link* l) {
  const char* kind = rtnl_link_get_type(l);
  return kind && std::strcmp(kind, "tun") == 0;
}

}  // namespace

Result<proto::NetworkConfig> read_network(nl_sock* sock) {
  proto::NetworkConfig out;
  std::map<int, size_t> by_ifindex;  // ifindex -> index in out.interfaces
  Status failed;

  nl::Cache links = RUNVM_TRY(nl::link_cache(sock));
  nl::for_each<rtnl_link>(links.get(), [&](rtnl_link* l) {
    if (!failed.ok()) return;
    if ((rtnl_link_get_flags(l) & IFF_LOOPBACK) || rtnl_link_get_arptype(l) != ARPHRD_ETHER ||
        is_tap(l))
      return;
    const char* name = rtnl_link_get_name(l);
    nl_addr* mac = rtnl_link_get_addr(l);
    if (!name || !proto::valid_interface_name(name) || !mac || nl_addr_get_len(mac) != 6) {
      failed = make_error(std::string("interface ") + (name ? name : "?") +
                          ": no valid name or MAC address");
      return;
    }
    if (out.interfaces.size() == proto::kMaxInterfaces) {
      failed = make_error("more than " + std::to_string(proto::kMaxInterfaces) + " interfaces");
      return;
    }
    proto::NetInterface i;
    i.name = name;
    std::memcpy(i.mac.data(), nl_addr_get_binary_addr(mac), 6);
    i.mtu = rtnl_link_get_mtu(l);
    by_ifindex[rtnl_link_get_ifindex(l)] = out.interfaces.size();
    out.interfaces.push_back(std::move(i));
  });
  RUNVM_CHECK(std::move(failed));

  nl::Cache addrs = RUNVM_TRY(nl::addr_cache(sock));
  nl::for_each<rtnl_addr>(addrs.get(), [&](rtnl_addr* a) {
    if (!failed.ok()) return;
    auto it = by_ifindex.find(rtnl_addr_get_ifindex(a));
    nl_addr* local = rtnl_addr_get_local(a);
    if (it == by_ifindex.end() || !local) return;
    int family = rtnl_addr_get_family(a);
    if (family != AF_INET && family != AF_INET6) return;
    if (family == AF_INET6 && rtnl_addr_get_scope(a) == RT_SCOPE_LINK) return;
    auto& iface = out.interfaces[it->second];
    auto prefix = to_prefix(local);
    if (!prefix.ok()) {
      failed = std::move(prefix).error().wrap("interface " + iface.name + ": address");
      return;
    }
    prefix->prefix_len = static_cast<uint8_t>(rtnl_addr_get_prefixlen(a));
    if (iface.addresses.size() == proto::kMaxAddressesPerInterface) {
      failed = make_error("interface " + iface.name + ": too many addresses");
      return;
    }
    iface.addresses.push_back(*prefix);
  });
  RUNVM_CHECK(std::move(failed));

  nl::Cache routes = RUNVM_TRY(nl::route_cache(sock));
  nl::for_each<rtnl_route>(routes.get(), [&](rtnl_route* r) {
    if (!failed.ok()) return;
    int family = rtnl_route_get_family(r);
    if ((family != AF_INET && family != AF_INET6) || rtnl_route_get_table(r) != RT_TABLE_MAIN ||
        rtnl_route_get_type(r) != RTN_UNICAST || rtnl_route_get_protocol(r) == RTPROT_KERNEL ||
        rtnl_route_get_nnexthops(r) != 1)
      return;
    rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
    auto it = by_ifindex.find(rtnl_route_nh_get_ifindex(nh));
    nl_addr* dst = rtnl_route_get_dst(r);
    if (it == by_ifindex.end() || !dst) return;
    proto::NetRoute route;
    auto prefix = to_prefix(dst);
    if (!prefix.ok()) {
      failed = std::move(prefix).error().wrap("route destination");
      return;
    }
    route.destination = *prefix;
    if (nl_addr* gw = rtnl_route_nh_get_gateway(nh)) {
      auto g = to_prefix(gw);
      if (!g.ok()) {
        failed = std::move(g).error().wrap("route gateway");
        return;
      }
      route.gateway = g->address;
    }
    route.device = out.interfaces[it->second].name;
    route.metric = rtnl_route_get_priority(r);
    if (out.routes.size() == proto::kMaxRoutes) {
      failed = make_error("more than " + std::to_string(proto::kMaxRoutes) + " routes");
      return;
    }
    out.routes.push_back(std::move(route));
  });
  RUNVM_CHECK(std::move(failed));
  return out;
}

Result<proto::NetworkConfig> read_netns(const std::string& path) {
  UniqueFd ns = RUNVM_TRY(nl::open_netns(path));
  nl::Socket sock = RUNVM_TRY(nl::connect_route_in(ns.get()));
  return std::move(read_network(sock.get())).context("network namespace " + path);
}

}  // namespace runvm::net
