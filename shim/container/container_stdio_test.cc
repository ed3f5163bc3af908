#include "shim/container/container_stdio.h"

#include <gtest/gtest.h>

#include <set>

#include "guest/protocol/constants.h"

namespace runvm {
namespace {

TEST(ContainerStdio, FirstContainerHasTheProtocolsPortsOthersTheirOwn) {
  EXPECT_EQ(*container_stdio_port(0, 0), proto::kStdinPort);
  EXPECT_EQ(*container_stdio_port(0, 1), proto::kStdoutPort);
  EXPECT_EQ(*container_stdio_port(0, 2), proto::kStderrPort);
  std::set<uint32_t> seen;
  for (size_t c = 0; c < 100; ++c)
    for (int fd = 0; fd < 3; ++fd) {
      uint32_t p = *container_stdio_port(c, fd);
      EXPECT_TRUE(seen.insert(p).second) << p;
      EXPECT_NE(p, proto::kAgentPort);
      EXPECT_LT(p, proto::kExecPortMin);
    }
  EXPECT_FALSE(container_stdio_port(0, 3).ok());
  EXPECT_FALSE(container_stdio_port(1u << 20, 0).ok());
}

TEST(ContainerStdio, PipesGetPortsAndHandlers) {
  MicroVmConfig vm;
  auto first = plan_container_stdio(0, false, true, vm);
  auto second = plan_container_stdio(1, false, true, vm);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->ports.stdin_port, proto::kStdinPort);
  EXPECT_EQ(second->ports.stdin_port, proto::kStderrPort + 1);
  EXPECT_EQ(second->ports.stdout_kind, proto::StdioKind::kPipe);
  ASSERT_EQ(vm.port_handlers.size(), 6u);
  for (const auto& h : second->host) EXPECT_TRUE(h.valid());
  // Each port's guest end is handed out once.
  auto& [port, handler] = vm.port_handlers[0];
  EXPECT_EQ(port, proto::kStdinPort);
  EXPECT_TRUE(handler().ok());
  EXPECT_FALSE(handler().ok());
}

TEST(ContainerStdio, TerminalHasNoStderrStream) {
  MicroVmConfig vm;
  auto tty = plan_container_stdio(0, true, false, vm);
  ASSERT_TRUE(tty.ok());
  EXPECT_EQ(tty->ports.stdin_kind, proto::StdioKind::kTty);
  EXPECT_EQ(tty->ports.stderr_port, 0u);
  EXPECT_FALSE(tty->host[2].valid());
  EXPECT_EQ(vm.port_handlers.size(), 2u);
}

}  // namespace
}  // namespace runvm
