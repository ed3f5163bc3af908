#include "guest/protocol/network_messages.h"

#include <arpa/inet.h>

#include <set>

#include "guest/protocol/fields.h"

namespace runvm::proto {
namespace {

uint8_t max_prefix(IpFamily f) { return f == IpFamily::kIpv4 ? 32 : 128; }

// True when no bit beyond prefix_len is set: a route's destination must be
// a network, as the kernel requires.
bool is_network(const IpPrefix& p) {
  unsigned char bytes[16] = {};
  int af = p.family == IpFamily::kIpv4 ? AF_INET : AF_INET6;
  if (inet_pton(af, p.address.c_str(), bytes) != 1) return false;
  size_t total = p.family == IpFamily::kIpv4 ? 4 : 16;
  for (size_t bit = p.prefix_len; bit < total * 8; ++bit)
    if (bytes[bit / 8] & (0x80 >> (bit % 8))) return false;
  return true;
}

Result<std::string> parse_interface_name(const json::Value& v, std::string_view key) {
  json::Value field = RUNVM_TRY(v.at(key));
  std::string name = RUNVM_TRY(field.as_string());
  if (!valid_interface_name(name)) return field.error("must be a valid interface name");
  return name;
}

Result<IpPrefix> parse_prefix(const json::Value& v) {
  json::Value addr = RUNVM_TRY(v.at("address"));
  auto ip = parse_ip(RUNVM_TRY(addr.as_string()));
  if (!ip.ok()) return addr.error(ip.error().message);
  IpPrefix p{ip->first, ip->second, 0};
  p.prefix_len = static_cast<uint8_t>(
      RUNVM_TRY(fields::bounded(RUNVM_TRY(v.at("prefix_len")), max_prefix(p.family))));
  return p;
}

void write_prefix(json::Writer& w, const IpPrefix& p) {
  w.begin_object();
  w.key("address").string(p.address);
  w.key("prefix_len").uinteger(p.prefix_len);
  w.end_object();
}

Result<NetInterface> parse_interface(const json::Value& v) {
  NetInterface i;
  i.name = RUNVM_TRY(parse_interface_name(v, "name"));
  json::Value mac = RUNVM_TRY(v.at("mac"));
  auto parsed = parse_mac(RUNVM_TRY(mac.as_string()));
  if (!parsed.ok()) return mac.error(parsed.error().message);
  if ((*parsed)[0] & 1) return mac.error("must be a unicast address");
  i.mac = *parsed;
  if (auto dev = RUNVM_TRY(v.get("device_mac"))) {
    auto d = parse_mac(RUNVM_TRY(dev->as_string()));
    if (!d.ok()) return dev->error(d.error().message);
    if ((*d)[0] & 1) return dev->error("must be a unicast address");
    i.device_mac = *d;
  }
  json::Value mtu = RUNVM_TRY(v.at("mtu"));
  i.mtu = static_cast<uint32_t>(RUNVM_TRY(fields::bounded(mtu, kMaxMtu)));
  if (i.mtu < kMinMtu) return mtu.error("must be at least " + std::to_string(kMinMtu));
  if (auto addrs = RUNVM_TRY(v.get("addresses"))) {
    auto items = RUNVM_TRY(addrs->as_array());
    if (items.size() > kMaxAddressesPerInterface)
      return addrs->error("at most " + std::to_string(kMaxAddressesPerInterface) + " items");
    for (const auto& a : items) i.addresses.push_back(RUNVM_TRY(parse_prefix(a)));
  }
  return i;
}

Result<NetRoute> parse_route(const json::Value& v) {
  NetRoute r;
  json::Value dst = RUNVM_TRY(v.at("destination"));
  r.destination = RUNVM_TRY(parse_prefix(dst));
  if (!is_network(r.destination)) return dst.error("has bits set beyond its prefix length");
  if (auto gw = RUNVM_TRY(v.get("gateway"))) {
    auto ip = parse_ip(RUNVM_TRY(gw->as_string()));
    if (!ip.ok()) return gw->error(ip.error().message);
    if (ip->first != r.destination.family) return gw->error("must be of the destination's family");
    r.gateway = ip->second;
  }
  r.device = RUNVM_TRY(parse_interface_name(v, "device"));
  r.metric = RUNVM_TRY(fields::u32(v, "metric"));
  return r;
}

}  // namespace

Result<std::pair<IpFamily, std::string>> parse_ip(std::string_view text) {
  // inet_pton needs a terminated string; longer text is no address anyway.
  if (text.size() >= INET6_ADDRSTRLEN) return make_error("must be an IPv4 or IPv6 address");
  std::string s(text);
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), bytes) == 1) {
    inet_ntop(AF_INET, bytes, out, sizeof out);
    return std::pair{IpFamily::kIpv4, std::string(out)};
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes) == 1) {
    inet_ntop(AF_INET6, bytes, out, sizeof out);
    return std::pair{IpFamily::kIpv6, std::string(out)};
  }
  return make_error("must be an IPv4 or IPv6 address");
}

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name)
    if (c <= ' ' || c > '~' || c == '/' || c == ':') return false;
  return true;
}

std::string mac_to_string(const MacAddress& mac) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i) out += ':';
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xf];
  }
  return out;
}

Result<MacAddress> parse_mac(std::string_view text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  MacAddress mac{};
  if (text.size() != 17) return make_error("must be a MAC address (xx:xx:xx:xx:xx:xx)");
  for (size_t i = 0; i < 6; ++i) {
    int hi = nibble(text[i * 3]), lo = nibble(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':'))
      return make_error("must be a MAC address (xx:xx:xx:xx:xx:xx)");
    mac[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return mac;
}

void ConfigureNetwork::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("interfaces").begin_array();
  for (const auto& i : network.interfaces) {
    w.begin_object();
    w.key("name").string(i.name);
    w.key("mac").string(mac_to_string(i.mac));
    if (i.device_mac) w.key("device_mac").string(mac_to_string(*i.device_mac));
    w.key("mtu").uinteger(i.mtu);
    w.key("addresses").begin_array();
    for (const auto& a : i.addresses) write_prefix(w, a);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  if (network.hide_unnamed) w.key("hide_unnamed").boolean(true);
  w.key("routes").begin_array();
  for (const auto& r : network.routes) {
    w.begin_object();
    w.key("destination");
    write_prefix(w, r.destination);
    if (r.gateway) w.key("gateway").string(*r.gateway);
    w.key("device").string(r.device);
    w.key("metric").uinteger(r.metric);
    w.end_object();
  }
  w.end_array();
}

Result<ConfigureNetwork> ConfigureNetwork::parse(const json::Value& v) {
  ConfigureNetwork m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.network.hide_unnamed = RUNVM_TRY(fields::opt_bool(v, "hide_unnamed", false));
  std::set<std::string> names;
  std::set<MacAddress> macs, device_macs;
  if (auto ifs = RUNVM_TRY(v.get("interfaces"))) {
    auto items = RUNVM_TRY(ifs->as_array());
    if (items.size() > kMaxInterfaces)
      return ifs->error("at most " + std::to_string(kMaxInterfaces) + " items");
    for (const auto& item : items) {
      NetInterface i = RUNVM_TRY(parse_interface(item));
      if (i.name == "lo") return item.error("name: lo is the guest's own");
      if (!names.insert(i.name).second) return item.error("name: duplicate");
      if (!macs.insert(i.mac).second) return item.error("mac: duplicate");
      // The device it names is found by this one: two interfaces never
      // name the same device.
      if (!device_macs.insert(i.device_mac.value_or(i.mac)).second)
        return item.error("device_mac: duplicate");
      m.network.interfaces.push_back(std::move(i));
    }
  }
  if (auto routes = RUNVM_TRY(v.get("routes"))) {
    auto items = RUNVM_TRY(routes->as_array());
    if (items.size() > kMaxRoutes)
      return routes->error("at most " + std::to_string(kMaxRoutes) + " items");
    for (const auto& item : items) {
      NetRoute r = RUNVM_TRY(parse_route(item));
      if (!names.count(r.device)) return item.error("device: not one of the interfaces");
      m.network.routes.push_back(std::move(r));
    }
  }
  return m;
}

}  // namespace runvm::proto
