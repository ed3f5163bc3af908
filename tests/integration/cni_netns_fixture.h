// A container's network namespace made as a CNI plugin would, for the
// network suites (network_test.cc, pool_network_test.cc): a veth eth0
// (02:42:0a:63:00:02, 10.99.0.2/24 and fd99::2/64, default route via
// 10.99.0.1) whose peer "peer0" (10.99.0.1/24, fd99::1/64) sits in a second
// namespace standing for the host's bridge. Needs root.
#pragma once

#include <gtest/gtest.h>
#include <linux/pkt_sched.h>
#include <netlink/route/qdisc.h>

#include <string>

#include "spec/base/netlink_test_util.h"

namespace runvm::testing {

class CniNetns {
 protected:
  // Call from SetUp with ASSERT_NO_FATAL_FAILURE: a failure is the test's.
  void make_cni_netns() {
    auto c = nl::testing::TestNetns::create();
    auto o = nl::testing::TestNetns::create();
    ASSERT_TRUE(c.ok() && o.ok());
    container_ = std::move(*c);
    outside_ = std::move(*o);
    for (Status s :
         {nl::testing::add_veth(container_, "eth0", "02:42:0a:63:00:02", 1500, outside_, "peer0"),
          nl::testing::add_address(container_, "eth0", "10.99.0.2", 24),
          nl::testing::add_address(container_, "eth0", "fd99::2", 64),
          nl::testing::add_route(container_, "eth0", "0.0.0.0", 0, "10.99.0.1"),
          nl::testing::add_address(outside_, "peer0", "10.99.0.1", 24),
          nl::testing::add_address(outside_, "peer0", "fd99::1", 64)})
      ASSERT_TRUE(s.ok()) << s.error().message;
  }
  // config.json's "linux" member naming the container's namespace.
  std::string network_json() const {
    return R"("linux":{"namespaces":[{"type":"network","path":")" + container_.path() + R"("}]})";
  }
  // Whether `link` in the container's namespace has an ingress qdisc (the
  // tc mirred a tap is joined by).
  bool has_ingress(const std::string& link) {
    auto index = nl::testing::ifindex(container_, link);
    if (!index.ok()) return false;
    nl_cache* c = nullptr;
    if (rtnl_qdisc_alloc_cache(container_.sock(), &c) < 0) return false;
    nl::Cache cache(c);
    nl::Qdisc q(rtnl_qdisc_get_by_parent(cache.get(), *index, TC_H_INGRESS));
    return q != nullptr;
  }
  nl::testing::TestNetns container_, outside_;
};

}  // namespace runvm::testing
