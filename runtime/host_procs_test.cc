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

// A child that forks a grandchild (from a second thread of its own when
// `from_thread`); both sleep until killed. {0, 0} if that failed.
struct Family {
  pid_t child = 0, grandchild = 0;
  std::vector<pid_t> sorted() const {
    std::vector<pid_t> both = {child, grandchild};
    std::sort(both.begin(), both.end());
    return both;
  }
  ~Family() {
    if (grandchild > 0) kill(grandchild, SIGKILL);
    if (child > 0) {
      kill(child, SIGKILL);
      waitpid(child, nullptr, 0);
    }
  }
};

void fork_family(bool from_thread, Family& f) {
  int p[2];
  if (pipe(p) != 0) return;
  pid_t child = fork();
  if (child == 0) {
    auto fork_grandchild = [&] {
      pid_t grandchild = fork();
      if (grandchild == 0) {
        pause();
        _exit(0);
      }
      [[maybe_unused]] auto w = write(p[1], &grandchild, sizeof grandchild);
      pause();
    };
    if (from_thread)
      std::thread(fork_grandchild).join();
    else
      fork_grandchild();
    _exit(0);
  }
  f.child = child;
  if (child > 0 && read(p[0], &f.grandchild, sizeof f.grandchild) != sizeof f.grandchild)
    f.grandchild = 0;
  close(p[0]);
  close(p[1]);
}

TEST(HostProcs, TreeHoldsTheRootAndItsDescendants) {
  Family f;
  fork_family(false, f);
  ASSERT_GT(f.child, 0);
  ASSERT_GT(f.grandchild, 0);
  auto tree = process_tree(f.child);
  EXPECT_EQ(tree, f.sorted());
  EXPECT_EQ(process_tree_walk(f.child), f.sorted());
  auto u = host_usage(tree);
  EXPECT_EQ(u.processes, 2u);
  EXPECT_GT(u.rss_bytes, 0u);
  pid_t child = f.child;
  kill(f.grandchild, SIGKILL);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  f.child = f.grandchild = 0;
  EXPECT_TRUE(process_tree(child).empty());
  EXPECT_TRUE(process_tree_walk(child).empty());
}

TEST(HostProcs, TreeHoldsChildrenForkedByAnyThread) {
  // A child forked by a second thread is that thread's child in /proc
  // (task/<tid>/children), though its ppid is the process's.
  Family f;
  fork_family(true, f);
  ASSERT_GT(f.child, 0);
  ASSERT_GT(f.grandchild, 0);
  EXPECT_EQ(process_tree(f.child), f.sorted());
  EXPECT_EQ(process_tree_walk(f.child), f.sorted());
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
