#include "runtime/host_procs.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

namespace runvm::cli {
namespace {

TEST(HostProcs, ParsesStatWithAwkwardCommandNames) {
  ProcStat st;
  ASSERT_TRUE(parse_proc_stat(
      "123 (a) b (c)) S 77 123 123 0 -1 4194560 100 0 0 0 31 9 0 0 20 0 1 0 5 0 0", st));
  EXPECT_EQ(st.ppid, 77);
  EXPECT_EQ(st.utime_ticks, 31u);
  EXPECT_EQ(st.stime_ticks, 9u);
  EXPECT_FALSE(parse_proc_stat("123 (x) S 1", st));
  EXPECT_FALSE(parse_proc_stat("garbage", st));
}

TEST(HostProcs, TreeHoldsTheRootAndItsDescendants) {
  // A child that forks a grandchild; both sleep until killed.
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pid_t grandchild = fork();
    if (grandchild == 0) {
      pause();
      _exit(0);
    }
    [[maybe_unused]] auto w = write(p[1], &grandchild, sizeof grandchild);
    pause();
    _exit(0);
  }
  pid_t grandchild = 0;
  ASSERT_EQ(read(p[0], &grandchild, sizeof grandchild), static_cast<ssize_t>(sizeof grandchild));
  close(p[0]);
  close(p[1]);
  auto tree = process_tree(child);
  std::vector<pid_t> want = {child, grandchild};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(tree, want);
  EXPECT_EQ(process_tree_walk(child), want);
  auto u = host_usage(tree);
  EXPECT_EQ(u.processes, 2u);
  EXPECT_GT(u.rss_bytes, 0u);
  kill(grandchild, SIGKILL);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_TRUE(process_tree(child).empty());
  EXPECT_TRUE(process_tree_walk(child).empty());
}

TEST(HostProcs, TreeHoldsChildrenForkedByAnyThread) {
  // A child forked by a second thread is that thread's child in /proc
  // (task/<tid>/children), though its ppid is the process's.
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::thread t([&] {
      pid_t grandchild = fork();
      if (grandchild == 0) {
        pause();
        _exit(0);
      }
      [[maybe_unused]] auto w = write(p[1], &grandchild, sizeof grandchild);
      pause();
    });
    t.join();
    _exit(0);
  }
  pid_t grandchild = 0;
  ASSERT_EQ(read(p[0], &grandchild, sizeof grandchild), static_cast<ssize_t>(sizeof grandchild));
  close(p[0]);
  close(p[1]);
  std::vector<pid_t> want = {child, grandchild};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(process_tree(child), want);
  EXPECT_EQ(process_tree_walk(child), want);
  kill(grandchild, SIGKILL);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

TEST(HostProcs, ZombieRootIsItsOwnTree) {
  // Exited, not reaped yet: the walk finds it (its stat is readable), and
  // so does process_tree.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  siginfo_t si{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child), &si, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(process_tree(child), std::vector<pid_t>{child});
  EXPECT_EQ(process_tree_walk(child), std::vector<pid_t>{child});
  waitpid(child, nullptr, 0);
}

}  // namespace
}  // namespace runvm::cli
