#include "guest/protocol/network_messages.h"

#include <gtest/gtest.h>

#include "guest/protocol/messages.h"

namespace runvm::proto {
namespace {

using NetworkMessage = std::variant<ConfigureNetwork>;

std::string error_of(const Result<NetworkMessage>& r) {
  return r.ok() ? std::string("<ok>") : r.error().message;
}

ConfigureNetwork dual_stack() {
  ConfigureNetwork m;
  m.id = 9;
  NetInterface eth0{"eth0", {0x02, 0x42, 0x0a, 0x58, 0x00, 0x05}, 1500, {}};
  eth0.addresses = {{IpFamily::kIpv4, "10.88.0.5", 16}, {IpFamily::kIpv6, "fd00::5", 64}};
  NetInterface eth1{"net1", {0x0a, 0, 0, 0, 0, 1}, 9000, {}};
  eth1.device_mac = MacAddress{0x02, 0x52, 0x56, 0, 0, 7};  // a pool unit's NIC
  m.network.hide_unnamed = true;
  m.network.interfaces = {eth0, eth1};
  m.network.routes = {{{IpFamily::kIpv4, "0.0.0.0", 0}, "10.88.0.1", "eth0", 0},
                      {{IpFamily::kIpv6, "::", 0}, "fd00::1", "eth0", 1024},
                      {{IpFamily::kIpv4, "192.168.7.0", 24}, std::nullopt, "net1", 5}};
  return m;
}

TEST(NetworkMessages, RoundTrip) {
  ConfigureNetwork m = dual_stack();
  auto back = parse_variant<NetworkMessage>(to_json(m));
  ASSERT_TRUE(back.ok()) << error_of(back);
  EXPECT_EQ(std::get<ConfigureNetwork>(*back), m);
  auto host = parse_host_message(to_json(HostMessage(m)));
  ASSERT_TRUE(host.ok()) << host.error().message;
  EXPECT_EQ(std::get<ConfigureNetwork>(*host), m);
  auto empty = parse_variant<NetworkMessage>(R"({"type":"configure_network","id":1})");
  ASSERT_TRUE(empty.ok()) << error_of(empty);
  EXPECT_TRUE(std::get<ConfigureNetwork>(*empty).network.interfaces.empty());
}

TEST(NetworkMessages, AddressesAreCanonical) {
  auto v6 = parse_ip("FD00:0:0::0005");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, IpFamily::kIpv6);
  EXPECT_EQ(v6->second, "fd00::5");
  EXPECT_FALSE(parse_ip("10.88.0.256").ok());
  EXPECT_FALSE(parse_ip("10.88.0.5/16").ok());
  EXPECT_FALSE(parse_ip(std::string(100, '1')).ok());
  auto mac = parse_mac("02:42:AC:11:00:02");
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(mac_to_string(*mac), "02:42:ac:11:00:02");
  EXPECT_FALSE(parse_mac("02:42:ac:11:00").ok());
  EXPECT_FALSE(parse_mac("02-42-ac-11-00-02").ok());
  EXPECT_FALSE(parse_mac("02:42:ac:11:00:0g").ok());
}

TEST(NetworkMessages, InterfaceNames) {
  EXPECT_TRUE(valid_interface_name("eth0"));
  EXPECT_TRUE(valid_interface_name("a-very-long-nm1"));  // 15
  EXPECT_FALSE(valid_interface_name("a-very-long-nam1"));
  EXPECT_FALSE(valid_interface_name(""));
  EXPECT_FALSE(valid_interface_name(".."));
  EXPECT_FALSE(valid_interface_name("a/b"));
  EXPECT_FALSE(valid_interface_name("a b"));
  EXPECT_FALSE(valid_interface_name("eth0:1"));
  EXPECT_FALSE(valid_interface_name("\xc3\xa9th"));
}

TEST(NetworkMessages, HostileMessagesNameThePath) {
  const std::string head = R"({"type":"configure_network","id":1,)";
  const std::string eth0 = R"({"name":"eth0","mac":"02:00:00:00:00:01","mtu":1500})";
  struct Case {
    std::string body, error;
  } cases[] = {
      {head + R"("interfaces":[{"name":"eth0/x","mac":"02:00:00:00:00:01","mtu":1500}]})",
       "interfaces[0].name: must be a valid interface name"},
      {head + R"("interfaces":[{"name":"eth0","mac":"03:00:00:00:00:01","mtu":1500}]})",
       "interfaces[0].mac: must be a unicast address"},
      {head + R"("interfaces":[{"name":"eth0","mac":"x","mtu":1500}]})",
       "interfaces[0].mac: must be a MAC address (xx:xx:xx:xx:xx:xx)"},
      {head + R"("interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","mtu":67}]})",
       "interfaces[0].mtu: must be at least 68"},
      {head + R"("interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","mtu":65536}]})",
       "interfaces[0].mtu: must be at most 65535"},
      {head + R"("interfaces":[{"name":"lo","mac":"02:00:00:00:00:01","mtu":1500}]})",
       "interfaces[0]: name: lo is the guest's own"},
      {head + R"("interfaces":[)" + eth0 + "," + eth0 + "]}", "interfaces[1]: name: duplicate"},
      {head +
           R"("interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","mtu":1500,"addresses":[{"address":"10.0.0.1","prefix_len":33}]}]})",
       "interfaces[0].addresses[0].prefix_len: must be at most 32"},
      {head +
           R"("interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","mtu":1500,"addresses":[{"address":"10.0.0.x","prefix_len":8}]}]})",
       "interfaces[0].addresses[0].address: must be an IPv4 or IPv6 address"},
      {head + R"("interfaces":[)" + eth0 +
           R"(],"routes":[{"destination":{"address":"0.0.0.0","prefix_len":0},"device":"eth1","metric":0}]})",
       "routes[0]: device: not one of the interfaces"},
      {head + R"("interfaces":[)" + eth0 +
           R"(],"routes":[{"destination":{"address":"10.1.2.3","prefix_len":8},"device":"eth0","metric":0}]})",
       "routes[0].destination: has bits set beyond its prefix length"},
      {head + R"("interfaces":[)" + eth0 +
           R"(],"routes":[{"destination":{"address":"::","prefix_len":0},"gateway":"10.0.0.1","device":"eth0","metric":0}]})",
       "routes[0].gateway: must be of the destination's family"},
      {head + R"("interfaces":[)" + eth0 +
           R"(],"routes":[{"destination":{"address":"::","prefix_len":0},"device":"eth0"}]})",
       "routes[0].metric: is required"},
      {head + R"("interfaces":{}})", "interfaces: must be an array"},
      {head + R"("hide_unnamed":1})", "hide_unnamed: must be a boolean"},
      {head +
           R"("interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","device_mac":"01:00:00:00:00:01","mtu":1500}]})",
       "interfaces[0].device_mac: must be a unicast address"},
      {head + R"("interfaces":[)" + eth0 +
           R"(,{"name":"eth1","mac":"02:00:00:00:00:02","device_mac":"02:00:00:00:00:01","mtu":1500}]})",
       "interfaces[1]: device_mac: duplicate"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(error_of(parse_variant<NetworkMessage>(c.body)), c.error) << c.body;
  std::string many = head + R"("interfaces":[)";
  for (size_t i = 0; i <= kMaxInterfaces; ++i) many += (i ? "," : "") + eth0;
  EXPECT_EQ(error_of(parse_variant<NetworkMessage>(many + "]}")), "interfaces: at most 16 items");
}

}  // namespace
}  // namespace runvm::proto
