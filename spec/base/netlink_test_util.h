// Test-only: throwaway network namespaces and veth pairs, made with the same
// libnl as the code under test, for the tests of shim/net and of the
// agent's network set-up (both run as root).
#pragma once

#include <string>

#include "spec/base/netlink.h"

namespace runvm::nl::testing {

// A new, empty network namespace, alive as long as this object (an nsfs fd;
// nothing mounted, nothing to clean up).
class TestNetns {
 public:
  static Result<TestNetns> create();
  // An existing namespace (e.g. /proc/<pid>/ns/net), kept alive as long as this object.
  static Result<TestNetns> open(const std::string& path);
  int fd() const { return fd_.get(); }
  // A path open_netns accepts: /proc/<pid>/fd/<fd>.
  std::string path() const;
  nl_sock* sock() const { return sock_.get(); }

 private:
  UniqueFd fd_;
  Socket sock_;
};

// A veth pair: `name` in `a` with `mac` (empty: random) and `mtu`, `peer` in
// `b`; both up.
Status add_veth(const TestNetns& a, const std::string& name, const std::string& mac, int mtu,
                const TestNetns& b, const std::string& peer);
// An address on a link of the namespace ("10.0.0.2", 24); IPv6 without DAD.
Status add_address(const TestNetns& ns, const std::string& link, const std::string& address,
                   int prefix_len);
// A route through `link`; `gateway` empty: on the link.
Status add_route(const TestNetns& ns, const std::string& link, const std::string& destination,
                 int prefix_len, const std::string& gateway, uint32_t metric = 0);
Result<int> ifindex(const TestNetns& ns, const std::string& link);

// A raw AF_PACKET socket bound to `link` in `ns`, receiving every protocol.
Result<UniqueFd> packet_socket(const TestNetns& ns, const std::string& link);

}  // namespace runvm::nl::testing
