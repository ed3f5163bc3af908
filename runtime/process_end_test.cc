#include "runtime/process_end.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace runvm::cli {
namespace {

int no_pidfd_open(pid_t) {
  errno = ENOSYS;
  return -1;
}

// A child that sleeps until killed; reaped by the test.
class ProcessEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    child_ = fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      pause();
      _exit(0);
    }
  }
  void TearDown() override {
    if (child_ > 0 && !reaped_) {
      kill(child_, SIGKILL);
      waitpid(child_, nullptr, 0);
    }
  }
  void end_child() {
    kill(child_, SIGKILL);
    waitpid(child_, nullptr, 0);
    reaped_ = true;
  }
  // What the pool watcher asks (Unit::alive): still there, not a zombie.
  bool running() const { return !reaped_; }
  // One turn of the watcher's loop on `e` alone: poll, then ended().
  bool poll_once(const ProcessEnd& e) const {
    pollfd p{e.fd(), POLLIN, 0};
    int n = poll(&p, 1, e.timeout_ms());
    EXPECT_GE(n, 0);
    return e.ended(p.revents);
  }
  pid_t child_ = -1;
  bool reaped_ = false;
};

// No pidfd_open (ENOSYS): the end is still seen, by a look each interval,
// never by a poll that blocks for ever.
TEST_F(ProcessEndTest, WithoutPidfdOpenItPollsOnAnInterval) {
  ProcessEnd e(
      child_, [this] { return running(); }, no_pidfd_open);
  EXPECT_TRUE(e.polled());
  EXPECT_EQ(e.fd(), -1);
  EXPECT_EQ(e.timeout_ms(), ProcessEnd::kPolledInterval.count());
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(poll_once(e));
  // The poll returned on its timeout, not at once and not never.
  EXPECT_GE(std::chrono::steady_clock::now() - start, ProcessEnd::kPolledInterval / 2);
  end_child();
  EXPECT_TRUE(poll_once(e));
}

TEST_F(ProcessEndTest, WithAPidfdTheExitWakesThePoll) {
  ProcessEnd e(child_, [this] { return running(); });
  if (e.polled()) GTEST_SKIP() << "this kernel has no pidfd_open";
  EXPECT_EQ(e.timeout_ms(), -1);
  pollfd p{e.fd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
  EXPECT_FALSE(e.ended(p.revents));
  kill(child_, SIGKILL);  // not reaped: the pidfd alone tells
  EXPECT_EQ(poll(&p, 1, 5000), 1);
  EXPECT_TRUE(e.ended(p.revents));
}

}  // namespace
}  // namespace runvm::cli
