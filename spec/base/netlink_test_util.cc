#include "spec/base/netlink_test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netlink/route/link/veth.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

namespace runvm::nl::testing {

Result<TestNetns> TestNetns::create() {
  TestNetns ns;
  Status status;
  // unshare on a thread of its own: this thread's namespace stays as it is.
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      status = errno_error("unshare(CLONE_NEWNET)");
      return;
    }
    ns.fd_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!ns.fd_) {
      status = errno_error("open /proc/thread-self/ns/net");
      return;
    }
    auto sock = connect_route();
    if (!sock.ok()) {
      status = std::move(sock).error();
      return;
    }
    ns.sock_ = std::move(*sock);
  });
  t.join();
  RUNVM_CHECK(std::move(status));
  return ns;
}

Result<TestNetns> TestNetns::open(const std::string& path) {
  TestNetns ns;
  ns.fd_ = RUNVM_TRY(open_netns(path));
  ns.sock_ = RUNVM_TRY(connect_route_in(ns.fd_.get()));
  return ns;
}

std::string TestNetns::path() const {
  return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd_.get());
}

Result<int> ifindex(const TestNetns& ns, const std::string& link) {
  return ifindex_of(ns.sock(), link);
}

Status add_veth(const TestNetns& a, const std::string& name, const std::string& mac, int mtu,
                const TestNetns& b, const std::string& peer) {
  rtnl_link* link = rtnl_link_veth_alloc();
  if (!link) return make_error("out of memory");
  rtnl_link* other = rtnl_link_veth_get_peer(link);
  rtnl_link_set_name(link, name.c_str());
  rtnl_link_set_mtu(link, mtu);
  rtnl_link_set_mtu(other, mtu);
  if (!mac.empty()) {
    unsigned char bytes[6];
    if (std::sscanf(mac.c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &bytes[0], &bytes[1], &bytes[2],
                    &bytes[3], &bytes[4], &bytes[5]) != 6) {
      rtnl_link_put(other);
      rtnl_link_veth_release(link);
      return make_error("bad MAC " + mac);
    }
    Address addr(nl_addr_build(AF_LLC, bytes, 6));
    rtnl_link_set_addr(link, addr.get());
  }
  rtnl_link_set_name(other, peer.c_str());
  rtnl_link_set_ns_fd(other, b.fd());
  int err = rtnl_link_add(a.sock(), link, NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(other);
  rtnl_link_veth_release(link);
  if (err < 0) return error("add veth " + name, err);
  RUNVM_CHECK(change_link(a.sock(), RUNVM_TRY(ifindex(a, name)), {.up = true}));
  return change_link(b.sock(), RUNVM_TRY(ifindex(b, peer)), {.up = true});
}

Status add_address(const TestNetns& ns, const std::string& link, const std::string& address,
                   int prefix_len) {
  return nl::add_address(ns.sock(), RUNVM_TRY(ifindex(ns, link)), address, prefix_len);
}

Status add_route(const TestNetns& ns, const std::string& link, const std::string& destination,
                 int prefix_len, const std::string& gateway, uint32_t metric) {
  std::optional<std::string> gw;
  if (!gateway.empty()) gw = gateway;
  return nl::add_route(ns.sock(), RUNVM_TRY(ifindex(ns, link)), destination, prefix_len, gw,
                       metric);
}

Result<UniqueFd> packet_socket(const TestNetns& ns, const std::string& link) {
  int index = RUNVM_TRY(ifindex(ns, link));
  UniqueFd fd;
  RUNVM_CHECK(run_in_netns(ns.fd(), [&]() -> Status {
    fd.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
    if (!fd) return errno_error("socket(AF_PACKET)");
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = index;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
      return errno_error("bind AF_PACKET to " + link);
    return {};
  }));
  return fd;
}

}  // namespace runvm::nl::testing
