// Network messages of the control protocol (PROTOCOL.md, "Network"): the
// guest's interfaces and routes, as the host read them from the container's
// network namespace (shim/net). Same conventions as messages.h: kType,
// write(), parse() for hostile input.
//
// The same types describe a namespace on the host (shim/net/netns_reader.h)
// and the configuration the agent applies (guest/agent/network.h), so there
// is one description of "an interface" in runvm.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec/base/json.h"
#include "spec/base/result.h"

namespace runvm::proto {

inline constexpr size_t kMaxInterfaces = 16;
inline constexpr size_t kMaxAddressesPerInterface = 64;
inline constexpr size_t kMaxRoutes = 256;
inline constexpr uint32_t kMinMtu = 68;  // IPv4's minimum; the kernel refuses less
inline constexpr uint32_t kMaxMtu = 65535;

enum class IpFamily { kIpv4, kIpv6 };

// An address with its prefix length ("10.88.0.5/16", "fd00::5/64"). The
// text is canonical (inet_ntop's form), so equal addresses compare equal.
struct IpPrefix {
  IpFamily family = IpFamily::kIpv4;
  std::string address;
  uint8_t prefix_len = 0;  // at most 32 (IPv4) or 128 (IPv6)
  bool operator==(const IpPrefix&) const = default;
};

// Canonical text of an IPv4 or IPv6 address; error when it is neither.
Result<std::pair<IpFamily, std::string>> parse_ip(std::string_view text);

// An interface name the kernel accepts: 1..15 bytes, printable ASCII, no
// '/', ':' or whitespace, not "." or "..".
bool valid_interface_name(std::string_view name);

using MacAddress = std::array<uint8_t, 6>;
std::string mac_to_string(const MacAddress& mac);  // "02:00:0a:58:00:05"
// Six colon-separated hex bytes; error otherwise.
Result<MacAddress> parse_mac(std::string_view text);

struct NetInterface {
  std::string name;  // the name in the container's namespace ("eth0")
  MacAddress mac{};  // unicast; the guest finds its virtio-net device by it
  uint32_t mtu = 1500;
  std::vector<IpPrefix> addresses;  // link-local IPv6 left out: the guest makes its own
  // The MAC the VM's device was booted with when it is not `mac` (a pool
  // unit's NIC, booted before its container was known): the guest finds the
  // device by this one and gives it `mac`.
  std::optional<MacAddress> device_mac;
  bool operator==(const NetInterface&) const = default;
};

// A route of the main table. `destination` with prefix_len 0 is the default
// route of its family. No gateway: the destination is on the link.
struct NetRoute {
  IpPrefix destination;
  std::optional<std::string> gateway;  // same family as the destination
  std::string device;                  // one of the interfaces' names
  uint32_t metric = 0;
  bool operator==(const NetRoute&) const = default;
};

// A network namespace's interfaces (other than lo) and routes: what the host
// reads (shim/net) and the guest applies (guest/agent/network.h).
struct NetworkConfig {
  std::vector<NetInterface> interfaces;
  std::vector<NetRoute> routes;
  // The guest's Ethernet devices the message does not name leave the
  // guest's network namespace (a pool unit's NIC its loopback-only
  // container does not use): the container sees what a cold start's would.
  bool hide_unnamed = false;
  bool operator==(const NetworkConfig&) const = default;
};

// Sets up the guest's network: loopback up, each interface (found by MAC)
// renamed, given its MTU and addresses and brought up, then the routes
// added. Replied with Ok or ErrorReply. Sent once, before the first create;
// no interfaces: loopback only.
struct ConfigureNetwork {
  static constexpr std::string_view kType = "configure_network";
  uint64_t id = 0;
  NetworkConfig network;  // wire members "interfaces" and "routes"
  void write(json::Writer& w) const;
  static Result<ConfigureNetwork> parse(const json::Value& v);
  bool operator==(const ConfigureNetwork&) const = default;
};

}  // namespace runvm::proto
