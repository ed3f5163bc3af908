#include "spec/base/netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <sched.h>
#include <sys/ioctl.h>

#include <cstring>
#include <thread>

namespace runvm::nl {

Error error(std::string_view what, int nl_err) {
  // Callers tell "gone already" from real failures by the errno.
  int code = nl_err == -NLE_NODEV || nl_err == -NLE_OBJ_NOTFOUND ? ENODEV : 0;
  return make_error(std::string(what) + ": " + nl_geterror(nl_err), code);
}

Result<Socket> connect_route() {
  Socket sock(nl_socket_alloc());
  if (!sock) return make_error("netlink: out of memory");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
    return error("netlink: connect", err);
  return sock;
}

Result<Cache> link_cache(nl_sock* sock) {
  nl_cache* c = nullptr;
  if (int err = rtnl_link_alloc_cache(sock, AF_UNSPEC, &c); err < 0)
    return error("netlink: list links", err);
  return Cache(c);
}

Result<Cache> addr_cache(nl_sock* sock) {
  nl_cache* c = nullptr;
  if (int err = rtnl_addr_alloc_cache(sock, &c); err < 0)
    return error("netlink: list addresses", err);
  return Cache(c);
}

Result<Cache> route_cache(nl_sock* sock) {
  nl_cache* c = nullptr;
  if (int err = rtnl_route_alloc_cache(sock, AF_UNSPEC, 0, &c); err < 0)
    return error("netlink: list routes", err);
  return Cache(c);
}

Result<Address> parse_address(const std::string& text, int prefix_len) {
  unsigned char bytes[16];
  int family = AF_INET;
  size_t len = 4;
  if (inet_pton(AF_INET, text.c_str(), bytes) != 1) {
    if (inet_pton(AF_INET6, text.c_str(), bytes) != 1)
      return make_error("\"" + text + "\": not an IP address");
    family = AF_INET6;
    len = 16;
  }
  Address a(nl_addr_build(family, bytes, len));
  if (!a) return make_error("netlink: out of memory");
  if (prefix_len >= 0) nl_addr_set_prefixlen(a.get(), prefix_len);
  return a;
}

Result<int> ifindex_of(nl_sock* sock, const std::string& name) {
  rtnl_link* l = nullptr;
  if (int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &l); err < 0)
    return error("netlink: link " + name, err);
  Link link(l);
  return rtnl_link_get_ifindex(link.get());
}

Status change_link(nl_sock* sock, int ifindex, const LinkChange& change) {
  Link orig(rtnl_link_alloc()), want(rtnl_link_alloc());
  if (!orig || !want) return make_error("netlink: out of memory");
  rtnl_link_set_ifindex(orig.get(), ifindex);
  if (change.name) rtnl_link_set_name(want.get(), change.name->c_str());
  if (change.mtu) rtnl_link_set_mtu(want.get(), *change.mtu);
  if (change.up) {
    if (*change.up)
      rtnl_link_set_flags(want.get(), IFF_UP);
    else
      rtnl_link_unset_flags(want.get(), IFF_UP);
  }
  if (change.mac) {
    Address mac(nl_addr_build(AF_LLC, change.mac->data(), change.mac->size()));
    if (!mac) return make_error("netlink: out of memory");
    rtnl_link_set_addr(want.get(), mac.get());  // takes its own reference
  }
  if (change.netns_fd) rtnl_link_set_ns_fd(want.get(), *change.netns_fd);
  if (int err = rtnl_link_change(sock, orig.get(), want.get(), 0); err < 0)
    return error("netlink: change link", err);
  return {};
}

Status delete_link(nl_sock* sock, int ifindex) {
  Link l(rtnl_link_alloc());
  if (!l) return make_error("netlink: out of memory");
  rtnl_link_set_ifindex(l.get(), ifindex);
  if (int err = rtnl_link_delete(sock, l.get()); err < 0) return error("netlink: delete link", err);
  return {};
}

Status add_address(nl_sock* sock, int ifindex, const std::string& address, int prefix_len) {
  Address local = RUNVM_TRY(parse_address(address, prefix_len));
  Addr a(rtnl_addr_alloc());
  if (!a) return make_error("netlink: out of memory");
  rtnl_addr_set_ifindex(a.get(), ifindex);
  if (int err = rtnl_addr_set_local(a.get(), local.get()); err < 0)
    return error("netlink: address " + address, err);
  rtnl_addr_set_prefixlen(a.get(), prefix_len);
  if (nl_addr_get_family(local.get()) == AF_INET6) rtnl_addr_set_flags(a.get(), IFA_F_NODAD);
  if (int err = rtnl_addr_add(sock, a.get(), 0); err < 0)
    return error("netlink: add address " + address + "/" + std::to_string(prefix_len), err);
  return {};
}

Status add_route(nl_sock* sock, int ifindex, const std::string& destination, int prefix_len,
                 const std::optional<std::string>& gateway, uint32_t metric) {
  std::string what = "netlink: add route " + destination + "/" + std::to_string(prefix_len);
  Address dst = RUNVM_TRY(parse_address(destination, prefix_len));
  Route r(rtnl_route_alloc());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!r || !nh) {
    if (nh) rtnl_route_nh_free(nh);
    return make_error("netlink: out of memory");
  }
  rtnl_route_nh_set_ifindex(nh, ifindex);
  if (gateway) {
    Address gw = RUNVM_TRY(parse_address(*gateway, -1));
    rtnl_route_nh_set_gateway(nh, gw.get());  // takes its own reference
  }
  rtnl_route_add_nexthop(r.get(), nh);  // owned by the route from here
  rtnl_route_set_family(r.get(), nl_addr_get_family(dst.get()));
  if (int err = rtnl_route_set_dst(r.get(), dst.get()); err < 0) return error(what, err);
  rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(r.get(), RTPROT_BOOT);
  rtnl_route_set_type(r.get(), RTN_UNICAST);
  rtnl_route_set_scope(r.get(), gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  rtnl_route_set_priority(r.get(), metric);
  if (int err = rtnl_route_add(sock, r.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
    return error(what, err);
  return {};
}

Result<UniqueFd> open_netns(const std::string& path) {
  auto fail = [&](Error e) { return std::move(e).wrap("network namespace " + path); };
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(make_error(std::strerror(errno), errno));
  // NS_GET_NSTYPE answers only on nsfs files: anything else is ENOTTY.
  int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (type < 0 && errno != ENOTTY && errno != EINVAL) return fail(errno_error("NS_GET_NSTYPE"));
  if (type != CLONE_NEWNET) return fail(make_error("not a network namespace"));
  return fd;
}

Status run_in_netns(int netns_fd, const std::function<Status()>& fn) {
  Status result;
  // A thread of its own: setns(CLONE_NEWNET) changes only the calling
  // thread, and this one ends with the work, so no other code ever runs in
  // the container's namespace by accident.
  std::thread worker([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      result = errno_error("setns(network namespace)");
      return;
    }
    result = fn();
  });
  worker.join();
  return result;
}

Result<Socket> connect_route_in(int netns_fd) {
  Socket sock;
  RUNVM_CHECK(run_in_netns(netns_fd, [&]() -> Status {
    sock = RUNVM_TRY(connect_route());
    return {};
  }));
  return sock;
}

}  // namespace runvm::nl
