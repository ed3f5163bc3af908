// shim/net against real namespaces: a "container" namespace with a veth
// whose peer sits in a second namespace standing for the bridge side.
// Needs root (namespaces, taps, tc).
#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/pkt_sched.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "shim/net/container_network.h"
#include "shim/net/netns_reader.h"
#include "shim/net/pool_nic.h"
#include "shim/net/tap_bridge.h"
#include "spec/base/netlink_test_util.h"
#include "tests/support/must.h"
#include "tests/support/require.h"

namespace runvm::net {
namespace {

using nl::testing::TestNetns;

constexpr char kMac[] = "02:42:0a:63:00:02";
// IFF_VNET_HDR without TUNSETVNETHDRSZ: struct virtio_net_hdr, 10 bytes.
constexpr size_t kVnetHdrSize = 10;
constexpr uint16_t kEtherType = 0x88b5;  // IEEE local experimental: no stack reacts to it

using testing::must;

class NetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_ROOT("network namespaces, taps, tc");
    container_ = must(TestNetns::create());
    outside_ = must(TestNetns::create());
    must(nl::testing::add_veth(container_, "eth0", kMac, 1400, outside_, "peer0"));
    must(nl::testing::add_address(container_, "eth0", "10.99.0.2", 24));
    must(nl::testing::add_address(container_, "eth0", "fd99::2", 64));
    must(nl::testing::add_route(container_, "eth0", "0.0.0.0", 0, "10.99.0.1"));
    must(nl::testing::add_route(container_, "eth0", "::", 0, "fd99::1", 1024));
    must(nl::testing::add_route(container_, "eth0", "192.168.50.0", 24, "", 7));
  }

  // Ingress qdiscs per ifindex in the container namespace.
  bool has_ingress(const std::string& link) {
    int index = must(nl::testing::ifindex(container_, link));
    nl_cache* c = nullptr;
    EXPECT_EQ(rtnl_qdisc_alloc_cache(container_.sock(), &c), 0);
    nl::Cache cache(c);
    nl::Qdisc q(rtnl_qdisc_get_by_parent(cache.get(), index, TC_H_INGRESS));
    return q != nullptr;
  }
  // The names of the links the ingress filters of `link` redirect to.
  std::vector<std::string> redirects_of(const std::string& link) {
    int index = must(nl::testing::ifindex(container_, link));
    nl_cache* c = nullptr;
    EXPECT_EQ(rtnl_cls_alloc_cache(container_.sock(), index, TC_H_MAKE(TC_H_INGRESS, 0), &c), 0);
    nl::Cache cache(c);
    nl::Cache links = must(nl::link_cache(container_.sock()));
    std::vector<std::string> out;
    // u32 lists its hash table nodes too; the filters are those with actions.
    nl::for_each<rtnl_cls>(cache.get(), [&](rtnl_cls* cls) {
      for (rtnl_act* act = rtnl_u32_get_action(cls); act; act = rtnl_act_next(act)) {
        char name[IFNAMSIZ] = "?";
        rtnl_link_i2name(links.get(), rtnl_mirred_get_ifindex(act), name, sizeof name);
        out.push_back(std::string(rtnl_tc_get_kind(TC_CAST(act))) + ":" + name);
      }
    });
    return out;
  }
  bool link_exists(const std::string& link) { return nl::testing::ifindex(container_, link).ok(); }

  TestNetns container_, outside_;
};

std::string frame(const std::string& payload) {
  std::string f(12, '\xff');  // broadcast dst; src set below
  const unsigned char src[6] = {0x02, 0x42, 0x0a, 0x63, 0x00, 0x09};
  std::memcpy(f.data() + 6, src, 6);
  f += static_cast<char>(kEtherType >> 8);
  f += static_cast<char>(kEtherType & 0xff);
  return f + payload;
}

// Reads from fd until a read contains `payload` or 5 s pass.
bool receives(int fd, const std::string& payload) {
  char buf[4096];
  for (int i = 0; i < 50; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0 && std::string_view(buf, n).find(payload) != std::string_view::npos) return true;
  }
  return false;
}

TEST_F(NetTest, ReadsInterfacesAndRoutes) {
  proto::NetworkConfig net = must(read_netns(container_.path()));
  ASSERT_EQ(net.interfaces.size(), 1u);
  const auto& eth0 = net.interfaces[0];
  EXPECT_EQ(eth0.name, "eth0");
  EXPECT_EQ(proto::mac_to_string(eth0.mac), kMac);
  EXPECT_EQ(eth0.mtu, 1400u);
  // The IPv6 link-local address the kernel made is left out.
  std::vector<proto::IpPrefix> want_addrs = {{proto::IpFamily::kIpv4, "10.99.0.2", 24},
                                             {proto::IpFamily::kIpv6, "fd99::2", 64}};
  EXPECT_EQ(eth0.addresses, want_addrs);
  // Kernel routes (10.99.0.0/24, fd99::/64, fe80::/64) are left out.
  std::vector<proto::NetRoute> want_routes = {
      {{proto::IpFamily::kIpv4, "0.0.0.0", 0}, "10.99.0.1", "eth0", 0},
      {{proto::IpFamily::kIpv4, "192.168.50.0", 24}, std::nullopt, "eth0", 7},
      {{proto::IpFamily::kIpv6, "::", 0}, "fd99::1", "eth0", 1024}};
  EXPECT_EQ(net.routes, want_routes);
}

TEST_F(NetTest, EmptyNamespaceHasNoInterfaces) {
  TestNetns empty = must(TestNetns::create());
  proto::NetworkConfig net = must(read_netns(empty.path()));
  EXPECT_TRUE(net.interfaces.empty());
  EXPECT_TRUE(net.routes.empty());
}

TEST_F(NetTest, BadPathsGiveOneClearError) {
  auto missing = TapBridge::attach("/nonexistent/netns");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "network namespace /nonexistent/netns: No such file or directory");
  auto file = TapBridge::attach("/etc/hostname");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().message, "network namespace /etc/hostname: not a network namespace");
  auto mnt = read_netns("/proc/self/ns/mnt");
  ASSERT_FALSE(mnt.ok());
  EXPECT_EQ(mnt.error().message, "network namespace /proc/self/ns/mnt: not a network namespace");
}

TEST_F(NetTest, TapCarriesPacketsBothWaysAndTeardownLeavesNothing) {
  {
    TapBridge bridge = must(TapBridge::attach(container_.path()));
    ASSERT_EQ(bridge.taps().size(), 1u);
    const Tap& tap = bridge.taps()[0];
    EXPECT_EQ(tap.interface, "eth0");
    EXPECT_EQ(tap.name, "tap0_runvm");
    EXPECT_EQ(proto::mac_to_string(tap.mac), kMac);
    EXPECT_EQ(bridge.network().interfaces.size(), 1u);
    ASSERT_TRUE(link_exists("tap0_runvm"));
    EXPECT_TRUE(has_ingress("eth0"));
    EXPECT_TRUE(has_ingress("tap0_runvm"));
    EXPECT_EQ(redirects_of("eth0"), std::vector<std::string>{"mirred:tap0_runvm"});
    EXPECT_EQ(redirects_of("tap0_runvm"), std::vector<std::string>{"mirred:eth0"});

    // Guest -> outside: what QEMU writes into the tap (virtio-net header
    // first) comes out of the veth peer in the other namespace.
    UniqueFd peer = must(nl::testing::packet_socket(outside_, "peer0"));
    std::string out = std::string(kVnetHdrSize, '\0') + frame("from-the-guest");
    ASSERT_EQ(::write(tap.fd.get(), out.data(), out.size()), static_cast<ssize_t>(out.size()));
    EXPECT_TRUE(receives(peer.get(), "from-the-guest"));

    // Outside -> guest: a frame sent on the peer arrives on eth0 and is
    // redirected into the tap, where QEMU reads it.
    std::string in = frame("to-the-guest");
    ASSERT_EQ(::write(peer.get(), in.data(), in.size()), static_cast<ssize_t>(in.size()));
    EXPECT_TRUE(receives(tap.fd.get(), "to-the-guest"));
  }
  EXPECT_FALSE(link_exists("tap0_runvm"));
  EXPECT_FALSE(has_ingress("eth0"));
  EXPECT_TRUE(link_exists("eth0"));
}

// A pool unit's NIC (pool_nic.h): made in the unit's own namespace, moved
// at the claim into the container's and joined to its interface as
// attach() joins a tap it made there; the guest is told the device's boot
// MAC. Its fd stays valid across the move; teardown leaves nothing.
TEST_F(NetTest, APoolUnitsTapMovesIntoTheContainersNamespaceAndCarriesPackets) {
  TestNetns unit = must(TestNetns::create());
  std::optional<PoolNic> nic;
  must(nl::run_in_netns(unit.fd(), [&]() -> Status {
    nic = RUNVM_TRY(PoolNic::open());
    return {};
  }));
  ASSERT_TRUE(nl::testing::ifindex(unit, "tap0_runvm").ok());
  EXPECT_FALSE(link_exists("tap0_runvm"));
  proto::MacAddress boot_mac = nic->mac();
  EXPECT_EQ(boot_mac[0] & 0x03, 0x02);  // unicast, locally administered
  int fd = nic->device().fd;
  {
    // The claim joins the namespace on the calling thread: a thread of its own here.
    std::optional<TapBridge> bridge;
    must(nl::run_in_netns(unit.fd(), [&]() -> Status {
      bridge = RUNVM_TRY(nic->claim(container_.path()));
      return {};
    }));
    ASSERT_TRUE(bridge);
    EXPECT_FALSE(nl::testing::ifindex(unit, "tap0_runvm").ok());
    ASSERT_TRUE(link_exists("tap0_runvm"));
    ASSERT_EQ(bridge->network().interfaces.size(), 1u);
    const auto& eth0 = bridge->network().interfaces[0];
    EXPECT_EQ(proto::mac_to_string(eth0.mac), kMac);
    ASSERT_TRUE(eth0.device_mac);
    EXPECT_EQ(*eth0.device_mac, boot_mac);
    EXPECT_EQ(redirects_of("eth0"), std::vector<std::string>{"mirred:tap0_runvm"});
    EXPECT_EQ(redirects_of("tap0_runvm"), std::vector<std::string>{"mirred:eth0"});
    ASSERT_EQ(bridge->taps().size(), 1u);
    EXPECT_EQ(bridge->taps()[0].fd.get(), fd);

    UniqueFd peer = must(nl::testing::packet_socket(outside_, "peer0"));
    std::string out = std::string(kVnetHdrSize, '\0') + frame("from-the-unit");
    ASSERT_EQ(::write(fd, out.data(), out.size()), static_cast<ssize_t>(out.size()));
    EXPECT_TRUE(receives(peer.get(), "from-the-unit"));
    std::string in = frame("to-the-unit");
    ASSERT_EQ(::write(peer.get(), in.data(), in.size()), static_cast<ssize_t>(in.size()));
    EXPECT_TRUE(receives(fd, "to-the-unit"));
  }
  EXPECT_FALSE(link_exists("tap0_runvm"));
  EXPECT_FALSE(has_ingress("eth0"));
  EXPECT_TRUE(link_exists("eth0"));
}

// A namespace with no interface leaves the tap where it is; more than one
// is refused (the CLI sends those containers down the cold path).
TEST_F(NetTest, APoolUnitsTapServesOneInterfaceOrNone) {
  TestNetns unit = must(TestNetns::create());
  TestNetns empty = must(TestNetns::create());
  std::optional<PoolNic> nic;
  std::optional<TapBridge> none;
  must(nl::run_in_netns(unit.fd(), [&]() -> Status {
    nic = RUNVM_TRY(PoolNic::open());
    none = RUNVM_TRY(nic->claim(empty.path()));
    return {};
  }));
  EXPECT_FALSE(none);
  EXPECT_TRUE(nl::testing::ifindex(unit, "tap0_runvm").ok());
  must(nl::testing::add_veth(container_, "eth1", "", 1500, outside_, "peer1"));
  Status two = nl::run_in_netns(unit.fd(), [&]() -> Status {
    auto r = nic->claim(container_.path());
    if (!r.ok()) return std::move(r).error();
    return {};
  });
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error().message, "network namespace " + container_.path() +
                                     ": 2 interfaces: a pool unit's VM has one network device");
  EXPECT_TRUE(nl::testing::ifindex(unit, "tap0_runvm").ok());
  EXPECT_FALSE(link_exists("tap0_runvm"));
  EXPECT_FALSE(has_ingress("eth0"));
}

TEST_F(NetTest, AKilledShimsLeftoversDoNotBreakTheNext) {
  // A child attaches and is SIGKILLed: no teardown ran.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto b = TapBridge::attach(container_.path());
    if (!b.ok()) ::_exit(1);
    ::raise(SIGKILL);
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_TRUE(has_ingress("eth0"));  // its redirect to a tap that is gone

  TapBridge bridge = must(TapBridge::attach(container_.path()));
  EXPECT_EQ(redirects_of("eth0"), std::vector<std::string>{"mirred:tap0_runvm"});
  UniqueFd peer = must(nl::testing::packet_socket(outside_, "peer0"));
  std::string in = frame("after-the-crash");
  ASSERT_EQ(::write(peer.get(), in.data(), in.size()), static_cast<ssize_t>(in.size()));
  EXPECT_TRUE(receives(bridge.taps()[0].fd.get(), "after-the-crash"));
}

TEST_F(NetTest, ALeftoverTapStillHeldIsReplaced) {
  // An orphaned holder (as a QEMU that outlived its shim) keeps the tap.
  TapBridge first = must(TapBridge::attach(container_.path()));
  UniqueFd held(::dup(first.taps()[0].fd.get()));
  TapBridge second = must(TapBridge::attach(container_.path()));
  EXPECT_TRUE(link_exists("tap0_runvm"));
  EXPECT_NE(second.taps()[0].ifindex, first.taps()[0].ifindex);
  ifreq ifr{};
  EXPECT_NE(::ioctl(held.get(), TUNGETIFF, &ifr), 0);  // detached from its deleted link
  EXPECT_EQ(redirects_of("eth0"), std::vector<std::string>{"mirred:tap0_runvm"});
  EXPECT_EQ(redirects_of("tap0_runvm"), std::vector<std::string>{"mirred:eth0"});
}

}  // namespace
}  // namespace runvm::net

namespace runvm::net {
namespace {

oci::Config with_namespaces(std::vector<oci::Namespace> namespaces) {
  oci::Config c;
  c.linux_.emplace();
  c.linux_->namespaces = std::move(namespaces);
  return c;
}

TEST_F(NetTest, TheSpecsNetworkNamespaceDecides) {
  // No entry (host network) and a new, empty namespace: loopback only.
  auto host = attach_container_network(with_namespaces({}));
  ASSERT_TRUE(host.ok()) << host.error().message;
  EXPECT_FALSE(host->has_value());
  auto fresh = attach_container_network(with_namespaces({{oci::NamespaceType::kNetwork, ""}}));
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  EXPECT_FALSE(fresh->has_value());
  EXPECT_FALSE(link_exists("tap0_runvm"));
  // A path: taken over.
  auto joined = attach_container_network(
      with_namespaces({{oci::NamespaceType::kNetwork, container_.path()}}));
  ASSERT_TRUE(joined.ok()) << joined.error().message;
  ASSERT_TRUE(joined->has_value());
  auto devices = tap_devices(**joined);
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].mac, kMac);
  EXPECT_EQ(devices[0].fd, (*joined)->taps()[0].fd.get());
  auto bad = attach_container_network(with_namespaces({{oci::NamespaceType::kNetwork, "/etc"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "network namespace /etc: not a network namespace");
}

}  // namespace
}  // namespace runvm::net
