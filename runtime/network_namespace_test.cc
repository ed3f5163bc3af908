#include "runtime/network_namespace.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm::cli {
namespace {

using oci::NamespaceType;

oci::Config with_namespaces(std::vector<oci::Namespace> ns) {
  oci::Config c;
  c.linux_.emplace();
  c.linux_->namespaces = std::move(ns);
  return c;
}

TEST(NetworkNamespace, FreshOnlyForANetworkEntryWithoutPath) {
  EXPECT_TRUE(wants_fresh_netns(
      with_namespaces({{NamespaceType::kPid, ""}, {NamespaceType::kNetwork, ""}})));
  EXPECT_FALSE(wants_fresh_netns(with_namespaces({{NamespaceType::kNetwork, "/run/netns/x"}})));
  // No entry: runc's host network.
  EXPECT_FALSE(wants_fresh_netns(with_namespaces({{NamespaceType::kPid, ""}})));
  EXPECT_FALSE(wants_fresh_netns(oci::Config{}));
}

TEST(NetworkNamespace, ParsesNetDev) {
  const char* text =
      "Inter-|   Receive                            |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes\n"
      "    lo:       0       0    0    0    0     0          0         0        0\n"
      "  sit0:       0       0    0    0    0     0          0         0        0\n"
      "eth0: 1 2 3\n"
      "garbage without a colon\n"
      "   :\n";
  EXPECT_EQ(parse_net_dev(text), (std::vector<std::string>{"lo", "sit0", "eth0"}));
  EXPECT_TRUE(parse_net_dev("").empty());
  EXPECT_TRUE(parse_net_dev("only one header line").empty());
}

// Our own namespace stands for the shim's: recorded, unchanged; then a
// record of none, so its lo (always there) reads as added since create.
TEST(NetworkNamespace, StartRefusesInterfacesAddedAfterCreate) {
  testing::TempDir root;
  ContainerDir dir(root.path(), "c1");
  ASSERT_TRUE(dir.create().ok());
  EXPECT_TRUE(check_netns_unchanged(dir, ::getpid()).ok()) << "no record: nothing to check";
  ASSERT_TRUE(save_netns_interfaces(dir, ::getpid()).ok());
  EXPECT_TRUE(check_netns_unchanged(dir, ::getpid()).ok());
  { std::ofstream(dir.file(layout::kNetnsInterfacesFile)) << ""; }
  auto r = check_netns_unchanged(dir, ::getpid());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind(
                "the container's network namespace got interfaces after create (lo", 0),
            0u)
      << r.error().message;
  EXPECT_TRUE(dir.remove().ok());
}

}  // namespace
}  // namespace runvm::cli
