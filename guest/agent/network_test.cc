// configure_network in a throwaway namespace standing for the guest: its
// "virtio-net devices" are veths with the MACs the host would report.
// Needs root.
#include "guest/agent/network.h"

#include <gtest/gtest.h>
#include <linux/if.h>
#include <unistd.h>

#include <set>

#include "spec/base/netlink_test_util.h"
#include "tests/support/must.h"
#include "tests/support/require.h"

namespace runvm::agent {
namespace {

using nl::testing::TestNetns;

using testing::must;

class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_ROOT("network namespaces");
    guest_ = must(TestNetns::create());
    host_ = must(TestNetns::create());
    // Named as the guest kernel would, eth1 first to make the renames cross.
    must(nl::testing::add_veth(guest_, "eth0", "02:00:00:00:00:02", 1500, host_, "h2"));
    must(nl::testing::add_veth(guest_, "eth1", "02:00:00:00:00:01", 1500, host_, "h1"));
  }

  Status configure(const proto::NetworkConfig& net) {
    return nl::run_in_netns(guest_.fd(), [&] { return configure_network(net); });
  }

  rtnl_link* link(nl_cache* links, const std::string& name) {
    return rtnl_link_get_by_name(links, name.c_str());
  }

  std::set<std::string> addresses_of(int ifindex) {
    nl::Cache addrs = must(nl::addr_cache(guest_.sock()));
    std::set<std::string> out;
    nl::for_each<rtnl_addr>(addrs.get(), [&](rtnl_addr* a) {
      char buf[128];
      if (rtnl_addr_get_ifindex(a) == ifindex && rtnl_addr_get_scope(a) != RT_SCOPE_LINK)
        out.insert(nl_addr2str(rtnl_addr_get_local(a), buf, sizeof buf));
    });
    return out;
  }

  // "dst via gw dev metric" of the main table's non-kernel routes.
  std::set<std::string> routes() {
    nl::Cache routes = must(nl::route_cache(guest_.sock()));
    nl::Cache links = must(nl::link_cache(guest_.sock()));
    std::set<std::string> out;
    nl::for_each<rtnl_route>(routes.get(), [&](rtnl_route* r) {
      if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_protocol(r) == RTPROT_KERNEL)
        return;
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      char dst[128], gw[128] = "-", dev[IFNAMSIZ] = "?";
      nl_addr2str(rtnl_route_get_dst(r), dst, sizeof dst);
      if (nl_addr* g = rtnl_route_nh_get_gateway(nh)) nl_addr2str(g, gw, sizeof gw);
      rtnl_link_i2name(links.get(), rtnl_route_nh_get_ifindex(nh), dev, sizeof dev);
      out.insert(std::string(dst) + " via " + gw + " dev " + dev + " metric " +
                 std::to_string(rtnl_route_get_priority(r)));
    });
    return out;
  }

  TestNetns guest_, host_;
};

TEST_F(NetworkTest, ConfiguresInterfacesByMacAndRoutes) {
  proto::NetworkConfig net;
  net.interfaces = {
      {"eth0",
       {0x02, 0, 0, 0, 0, 1},
       1400,
       {{proto::IpFamily::kIpv4, "10.88.0.5", 16}, {proto::IpFamily::kIpv6, "fd00::5", 64}}},
      {"net1", {0x02, 0, 0, 0, 0, 2}, 9000, {{proto::IpFamily::kIpv4, "192.168.7.2", 24}}}};
  net.routes = {{{proto::IpFamily::kIpv4, "0.0.0.0", 0}, "10.88.0.1", "eth0", 0},
                {{proto::IpFamily::kIpv6, "::", 0}, "fd00::1", "eth0", 1024},
                {{proto::IpFamily::kIpv4, "172.16.0.0", 12}, std::nullopt, "net1", 7}};
  must(configure(net));

  nl::Cache links = must(nl::link_cache(guest_.sock()));
  nl::Link lo(link(links.get(), "lo")), eth0(link(links.get(), "eth0")),
      net1(link(links.get(), "net1"));
  ASSERT_TRUE(lo && eth0 && net1);
  EXPECT_TRUE(rtnl_link_get_flags(lo.get()) & IFF_UP);
  EXPECT_TRUE(rtnl_link_get_flags(eth0.get()) & IFF_UP);
  EXPECT_TRUE(rtnl_link_get_flags(net1.get()) & IFF_UP);
  char mac[32];
  EXPECT_STREQ(nl_addr2str(rtnl_link_get_addr(eth0.get()), mac, sizeof mac), "02:00:00:00:00:01");
  EXPECT_EQ(rtnl_link_get_mtu(eth0.get()), 1400u);
  EXPECT_EQ(rtnl_link_get_mtu(net1.get()), 9000u);
  EXPECT_EQ(addresses_of(rtnl_link_get_ifindex(eth0.get())),
            (std::set<std::string>{"10.88.0.5/16", "fd00::5/64"}));
  EXPECT_EQ(addresses_of(rtnl_link_get_ifindex(net1.get())),
            (std::set<std::string>{"192.168.7.2/24"}));
  EXPECT_EQ(routes(), (std::set<std::string>{"none via 10.88.0.1 dev eth0 metric 0",
                                             "none via fd00::1 dev eth0 metric 1024",
                                             "172.16.0.0/12 via - dev net1 metric 7"}));
}

TEST_F(NetworkTest, LoopbackOnly) {
  nl::Cache before = must(nl::link_cache(guest_.sock()));
  nl::Link lo_before(link(before.get(), "lo"));
  ASSERT_FALSE(rtnl_link_get_flags(lo_before.get()) & IFF_UP);  // a new namespace's lo is down
  must(configure({}));
  nl::Cache links = must(nl::link_cache(guest_.sock()));
  nl::Link lo(link(links.get(), "lo")), eth0(link(links.get(), "eth0"));
  ASSERT_TRUE(lo && eth0) << "devices nobody named are left as they are";
  EXPECT_TRUE(rtnl_link_get_flags(lo.get()) & IFF_UP);
}

// A pool unit's NIC was booted with a MAC of its own: found by it
// (device_mac) and given the container's.
// The device the kernel already named as the interface (the guest's eth0
// for a Podman eth0) is not renamed: each rename re-registers its sysfs and
// sysctl tables, costly under TCG, and the two-step rename did it twice.
// The names links took are read from the namespace's link notifications.
TEST_F(NetworkTest, ADeviceAlreadyNamedAsTheInterfaceIsNotRenamed) {
  nl::Socket monitor = must(nl::connect_route_in(guest_.fd()));
  ASSERT_EQ(nl_socket_add_membership(monitor.get(), RTNLGRP_LINK), 0);
  nl_socket_disable_seq_check(monitor.get());
  ASSERT_EQ(nl_socket_set_nonblocking(monitor.get()), 0);
  proto::NetworkConfig net;
  net.interfaces = {
      {"eth0", {0x02, 0, 0, 0, 0, 2}, 1500, {{proto::IpFamily::kIpv4, "10.88.0.5", 16}}}};
  must(configure(net));
  std::set<std::string> names;
  auto collect = [](nl_msg* msg, void* arg) -> int {
    nlmsghdr* h = nlmsg_hdr(msg);
    nlattr* tb[IFLA_MAX + 1];
    if (h->nlmsg_type == RTM_NEWLINK &&
        nlmsg_parse(h, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) == 0 && tb[IFLA_IFNAME])
      static_cast<std::set<std::string>*>(arg)->insert(nla_get_string(tb[IFLA_IFNAME]));
    return NL_OK;
  };
  nl_socket_modify_cb(monitor.get(), NL_CB_VALID, NL_CB_CUSTOM, collect, &names);
  while (nl_recvmsgs_default(monitor.get()) >= 0) {
  }
  // A new namespace's lo is down: configure brings it up, and says so.
  EXPECT_TRUE(names.count("lo")) << "no link notification was read";
  for (const auto& n : names) EXPECT_NE(n.rfind("runvm-", 0), 0u) << n;
  nl::Cache links = must(nl::link_cache(guest_.sock()));
  nl::Link eth0(link(links.get(), "eth0"));
  ASSERT_TRUE(eth0);
  EXPECT_TRUE(rtnl_link_get_flags(eth0.get()) & IFF_UP);
  EXPECT_EQ(addresses_of(rtnl_link_get_ifindex(eth0.get())),
            (std::set<std::string>{"10.88.0.5/16"}));
}

TEST_F(NetworkTest, ADeviceBootedWithAnotherMacTakesTheContainers) {
  proto::NetworkConfig net;
  proto::NetInterface eth0{
      "eth0", {0x02, 0x42, 0x0a, 0, 0, 5}, 1500, {{proto::IpFamily::kIpv4, "10.88.0.5", 16}}};
  eth0.device_mac = proto::MacAddress{0x02, 0, 0, 0, 0, 2};  // the veth the kernel named eth0
  net.interfaces = {eth0};
  must(configure(net));
  nl::Cache links = must(nl::link_cache(guest_.sock()));
  nl::Link l(link(links.get(), "eth0"));
  ASSERT_TRUE(l);
  char mac[32];
  EXPECT_STREQ(nl_addr2str(rtnl_link_get_addr(l.get()), mac, sizeof mac), "02:42:0a:00:00:05");
  EXPECT_TRUE(rtnl_link_get_flags(l.get()) & IFF_UP);
  EXPECT_EQ(addresses_of(rtnl_link_get_ifindex(l.get())), (std::set<std::string>{"10.88.0.5/16"}));
  // The other device keeps its MAC; its name was taken, so it moved aside.
  int others = 0;
  nl::for_each<rtnl_link>(links.get(), [&](rtnl_link* o) {
    char m[32];
    if (std::string(nl_addr2str(rtnl_link_get_addr(o), m, sizeof m)) == "02:00:00:00:00:01")
      ++others;
  });
  EXPECT_EQ(others, 1);
}

// A pool unit's NIC while idle (hide_unnamed): devices nobody named leave
// the guest's namespace; a later message naming one brings it back.
TEST_F(NetworkTest, UnnamedDevicesAreHiddenUntilNamed) {
  proto::NetworkConfig hide;
  hide.hide_unnamed = true;
  must(configure(hide));
  EXPECT_FALSE(nl::testing::ifindex(guest_, "eth0").ok());
  EXPECT_FALSE(nl::testing::ifindex(guest_, "eth1").ok());
  EXPECT_TRUE(nl::testing::ifindex(guest_, "lo").ok());

  proto::NetworkConfig net;
  proto::NetInterface eth0{
      "eth0", {0x02, 0x42, 0x0a, 0, 0, 5}, 1500, {{proto::IpFamily::kIpv4, "10.88.0.5", 16}}};
  eth0.device_mac = proto::MacAddress{0x02, 0, 0, 0, 0, 1};  // the veth named eth1
  net.interfaces = {eth0};
  net.hide_unnamed = true;
  must(configure(net));
  nl::Cache links = must(nl::link_cache(guest_.sock()));
  nl::Link l(link(links.get(), "eth0"));
  ASSERT_TRUE(l);
  char mac[32];
  EXPECT_STREQ(nl_addr2str(rtnl_link_get_addr(l.get()), mac, sizeof mac), "02:42:0a:00:00:05");
  EXPECT_TRUE(rtnl_link_get_flags(l.get()) & IFF_UP);
  EXPECT_EQ(addresses_of(rtnl_link_get_ifindex(l.get())), (std::set<std::string>{"10.88.0.5/16"}));
  // The other stays hidden: only lo and eth0 are left.
  int count = 0;
  nl::for_each<rtnl_link>(links.get(), [&](rtnl_link*) { ++count; });
  EXPECT_EQ(count, 2);
}

TEST_F(NetworkTest, MissingDeviceIsAnError) {
  proto::NetworkConfig net;
  net.interfaces = {{"eth0", {0x02, 0, 0, 0, 0, 9}, 1500, {}}};
  Status s = configure(net);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "eth0: no network device with MAC 02:00:00:00:00:09");
}

TEST_F(NetworkTest, UnreachableGatewayIsAnError) {
  proto::NetworkConfig net;
  net.interfaces = {
      {"eth0", {0x02, 0, 0, 0, 0, 1}, 1500, {{proto::IpFamily::kIpv4, "10.88.0.5", 16}}}};
  net.routes = {{{proto::IpFamily::kIpv4, "0.0.0.0", 0}, "192.0.2.1", "eth0", 0}};
  Status s = configure(net);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("route via eth0: netlink: add route 0.0.0.0/0"),
            std::string::npos)
      << s.error().message;
}

}  // namespace
}  // namespace runvm::agent
