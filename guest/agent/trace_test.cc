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

// The trace writes to a copy of stderr taken when it is first turned on:
// a pipe, one for all the tests here; turns the trace on and returns the
// pipe's read end (each test reads what it wrote).
int enable_into_pipe() {
  static const int read_end = [] {
    int p[2];
    EXPECT_EQ(::pipe(p), 0);
    int saved = ::dup(STDERR_FILENO);
    EXPECT_GE(saved, 0);
    EXPECT_GE(::dup2(p[1], STDERR_FILENO), 0);
    enable(true);
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(p[1]);
    return p[0];
  }();
  enable(true);
  return read_end;
}

TEST(TraceTest, MarkAtWritesTheTimeTakenEarlier) {
  int fd = enable_into_pipe();
  mark_at("agent_started", 1'234'560'000);
  const uint64_t before = now_ns();
  mark("later");
  enable(false);
  mark("off");  // nothing once off
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ASSERT_GT(n, 0);
  std::string out(buf, static_cast<size_t>(n));
  EXPECT_EQ(out.substr(0, out.find('\n') + 1), "runvm-agent: phase agent_started 1234.6 ms\n");
  std::string second = out.substr(out.find('\n') + 1);
  ASSERT_TRUE(second.starts_with("runvm-agent: phase later ")) << second;
  double ms = std::stod(second.substr(std::string("runvm-agent: phase later ").size()));
  EXPECT_GE(ms + 0.1, static_cast<double>(before) / 1e6);
  EXPECT_EQ(out.find("off"), std::string::npos);
}

// The rehearsal's phases (rehearsal.h) are its own, whatever a claimed
// container's same-named ones read.
TEST(TraceTest, APrefixNamesThePhasesMarkedWhileItLives) {
  int fd = enable_into_pipe();
  {
    Prefix prefix("rehearsal");
    mark_at("init_home", 2'000'000);
  }
  mark_at("init_home", 3'000'000);
  enable(false);
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)),
            "runvm-agent: phase rehearsal/init_home 2.0 ms\n"
            "runvm-agent: phase init_home 3.0 ms\n");
}

}  // namespace
}  // namespace runvm::agent::trace
