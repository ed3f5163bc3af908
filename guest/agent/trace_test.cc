#include "guest/agent/trace.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace runvm::agent::trace {
namespace {

TEST(TraceTest, OffMarksNothing) {
  enable(false);
  EXPECT_FALSE(enabled());
  mark("nothing");  // no console to write to: must be a no-op
}

TEST(TraceTest, MarkAtWritesTheTimeTakenEarlier) {
  // The trace writes to a copy of stderr taken when it is turned on: a pipe.
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  int saved = ::dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_GE(::dup2(p[1], STDERR_FILENO), 0);
  enable(true);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(p[1]);
  mark_at("agent_started", 1'234'560'000);
  const uint64_t before = now_ns();
  mark("later");
  enable(false);
  mark("off");  // nothing once off
  char buf[256];
  ssize_t n = ::read(p[0], buf, sizeof buf);
  ::close(p[0]);
  ASSERT_GT(n, 0);
  std::string out(buf, static_cast<size_t>(n));
  EXPECT_EQ(out.substr(0, out.find('\n') + 1), "runvm-agent: phase agent_started 1234.6 ms\n");
  std::string second = out.substr(out.find('\n') + 1);
  ASSERT_TRUE(second.starts_with("runvm-agent: phase later ")) << second;
  double ms = std::stod(second.substr(std::string("runvm-agent: phase later ").size()));
  EXPECT_GE(ms + 0.1, static_cast<double>(before) / 1e6);
  EXPECT_EQ(out.find("off"), std::string::npos);
}

}  // namespace
}  // namespace runvm::agent::trace
