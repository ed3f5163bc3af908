// libnl-route (Debian's libnl-3 / libnl-route-3) owned like any resource,
// errors as Result, and network namespaces entered safely. Shared by the
// shim (shim/net: reading a container's namespace, taps and tc redirects)
// and the guest agent (guest/agent/network.h), which links the static
// libnl. Its own library (runvm_netlink), not part of runvm_base, so only
// those link libnl.
#pragma once

#include <netlink/route/addr.h>
#include <netlink/route/classifier.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::nl {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <class T, void (*Free)(T*)>
using Ptr = std::unique_ptr<T, Deleter<T, Free>>;

using Socket = Ptr<nl_sock, nl_socket_free>;
using Cache = Ptr<nl_cache, nl_cache_free>;
using Address = Ptr<nl_addr, nl_addr_put>;
using Link = Ptr<rtnl_link, rtnl_link_put>;
using Addr = Ptr<rtnl_addr, rtnl_addr_put>;
using Route = Ptr<rtnl_route, rtnl_route_put>;
using Qdisc = Ptr<rtnl_qdisc, rtnl_qdisc_put>;
using Classifier = Ptr<rtnl_cls, rtnl_cls_put>;

// "what: <libnl's message>" for a negative libnl error code; code ENODEV
// when the object does not exist (any more).
Error error(std::string_view what, int nl_err);

// A NETLINK_ROUTE socket in the calling thread's network namespace. It stays
// in that namespace whichever thread uses it later.
Result<Socket> connect_route();

// Fresh caches of the socket's namespace.
Result<Cache> link_cache(nl_sock* sock);
Result<Cache> addr_cache(nl_sock* sock);
Result<Cache> route_cache(nl_sock* sock);

// Calls fn for each object of the cache (as the concrete type T).
template <class T>
void for_each(nl_cache* cache, const std::function<void(T*)>& fn) {
  for (nl_object* o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
    fn(reinterpret_cast<T*>(o));
}

// An nl_addr of family AF_INET/AF_INET6 from text ("10.0.0.1", "fd00::1"),
// with the given prefix length (negative: the whole address).
Result<Address> parse_address(const std::string& text, int prefix_len);

// Link operations in the socket's namespace.
Result<int> ifindex_of(nl_sock* sock, const std::string& name);
struct LinkChange {
  std::optional<std::string> name;
  std::optional<uint32_t> mtu;
  std::optional<bool> up;
  std::optional<std::array<uint8_t, 6>> mac;  // the link must be down (or allow live changes)
  // Moves the link into the network namespace of this fd (IFLA_NET_NS_FD).
  std::optional<int> netns_fd;
};
Status change_link(nl_sock* sock, int ifindex, const LinkChange& change);
Status delete_link(nl_sock* sock, int ifindex);
// An address ("10.0.0.2", 24) on a link; IPv6 ones without duplicate
// address detection, so they are usable at once.
Status add_address(nl_sock* sock, int ifindex, const std::string& address, int prefix_len);
// A route of the main table through the link; no `gateway`: on the link.
Status add_route(nl_sock* sock, int ifindex, const std::string& destination, int prefix_len,
                 const std::optional<std::string>& gateway, uint32_t metric);

// The network namespace at `path` (a bind-mounted nsfs file such as
// /run/netns/x or /proc/<pid>/ns/net), checked to be one: one clear error
// ("network namespace /x: not a network namespace") otherwise.
Result<UniqueFd> open_netns(const std::string& path);

// Runs fn on a new thread that first enters the namespace `netns_fd`
// (setns), and joins it: the calling thread never changes namespace.
// Sockets and taps fn opens stay in that namespace.
Status run_in_netns(int netns_fd, const std::function<Status()>& fn);

// A NETLINK_ROUTE socket in the namespace `netns_fd`.
Result<Socket> connect_route_in(int netns_fd);

}  // namespace runvm::nl
