#include "shim/container/agent_request.h"

#include <gtest/gtest.h>

namespace runvm {
namespace {

oci::Config with_resources(oci::Resources r) {
  oci::Config c;
  c.linux_.emplace().resources = std::move(r);
  return c;
}

TEST(AgentRequest, ResourcesReachTheGuestCgroup) {
  oci::Resources r;
  r.memory.emplace().limit = 128ll << 20;
  oci::CpuResources& cpu = r.cpu.emplace();
  cpu.quota = 50000;
  cpu.period = 100000;
  cpu.shares = 1024;
  r.pids.emplace().limit = 10;
  auto l = make_linux_spec(with_resources(r));
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->memory_limit, 128u << 20);
  EXPECT_EQ(l->cpu_quota, 50000);
  EXPECT_EQ(l->cpu_period, 100000u);
  EXPECT_EQ(l->cpu_weight, 39u);  // runc's conversion of 1024 shares
  EXPECT_EQ(l->pids_limit, 10);
}

TEST(AgentRequest, NoLimitsSendNone) {
  oci::Resources r;
  r.memory.emplace().limit = -1;  // runc: none
  r.cpu.emplace().period = 100;   // out of the kernel's bounds: not sent
  auto l = make_linux_spec(with_resources(r));
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_FALSE(l->memory_limit);
  EXPECT_FALSE(l->cpu_quota);
  EXPECT_FALSE(l->cpu_period);
  EXPECT_FALSE(l->cpu_weight);
  auto none = make_linux_spec(oci::Config{});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->memory_limit);
}

// A member's PID namespace: its own only for a new one (runc's "pid"
// entry without a path); the sandbox's path (Podman --share pid, CRI
// NamespaceMode POD) or no entry shares the agent's.
TEST(AgentRequest, OwnPidNamespaceOnlyForANewOne) {
  oci::Config c;
  EXPECT_FALSE(wants_own_pid_namespace(c));
  c.linux_.emplace();
  EXPECT_FALSE(wants_own_pid_namespace(c));
  c.linux_->namespaces.push_back({oci::NamespaceType::kMount, ""});
  EXPECT_FALSE(wants_own_pid_namespace(c));
  c.linux_->namespaces.push_back({oci::NamespaceType::kPid, ""});
  EXPECT_TRUE(wants_own_pid_namespace(c));
  c.linux_->namespaces.back().path = "/proc/4242/ns/pid";
  EXPECT_FALSE(wants_own_pid_namespace(c));
}

}  // namespace
}  // namespace runvm
