#include "shim/engine/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

using testing::read_file;

bool pid_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

TEST(ChildProcess, OutputGoesToLogAndStatusIsReported) {
  TempDir dir;
  auto c = ChildProcess::spawn({"sh", "-c", "echo out; echo err >&2; exit 3"}, dir / "log");
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto status = c->wait();
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 3);
  EXPECT_EQ(read_file(dir / "log"), "out\nerr\n");
  EXPECT_EQ(*c->wait(), *status) << "status is cached";
  EXPECT_EQ(describe_wait_status(*status), "exited with status 3");
}

TEST(ChildProcess, ReportsTheCpuTimeOfTheReapedProcess) {
  // Half a million shell loop iterations: far more than 20 ms of CPU time
  // however fast the host (dash does a few million a second at most).
  auto c =
      ChildProcess::spawn({"sh", "-c", "i=0; while [ $i -lt 500000 ]; do i=$((i + 1)); done"}, "");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->cpu_ms(), 0) << "not reaped yet";
  ASSERT_EQ(*c->wait(), 0);
  EXPECT_GE(c->cpu_ms(), 20);
}

TEST(ChildProcess, StdinIsDevNull) {
  TempDir dir;
  auto c = ChildProcess::spawn({"sh", "-c", "cat; readlink /proc/self/fd/0"}, dir / "log");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c->wait(), 0);
  EXPECT_EQ(read_file(dir / "log"), "/dev/null\n");
}

TEST(ChildProcess, InheritsNoOtherFds) {
  TempDir dir;
  UniqueFd leak(::open("/dev/null", O_RDONLY));  // deliberately not O_CLOEXEC
  ASSERT_TRUE(leak.valid());
  std::string probe = "test -e /proc/self/fd/" + std::to_string(leak.get());
  auto c = ChildProcess::spawn({"sh", "-c", probe}, "");
  ASSERT_TRUE(c.ok());
  auto status = c->wait();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1) << "fd " << leak.get() << " leaked into the child";
}

TEST(ChildProcess, InheritsTheFdsItIsGivenUnderTheirNumbers) {
  TempDir dir;
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  // The child writes into the inherited pipe end by its number.
  std::string probe = "echo through >&" + std::to_string(w.get());
  auto c = ChildProcess::spawn({"sh", "-c", probe}, "", {w.get()});
  ASSERT_TRUE(c.ok()) << c.error().message;
  w.reset();
  char buf[16] = {};
  EXPECT_EQ(::read(r.get(), buf, sizeof buf), 8);
  EXPECT_STREQ(buf, "through\n");
  auto status = c->wait();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  auto bad = ChildProcess::spawn({"true"}, "", {1});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "spawn: fd 1 cannot be inherited");
}

TEST(ChildProcess, SignalMaskAndDispositionsAreReset) {
  TempDir dir;
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  auto old_usr2 = ::signal(SIGUSR2, SIG_IGN);
  auto c = ChildProcess::spawn({"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}, dir / "log");
  ::signal(SIGUSR2, old_usr2);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c->wait(), 0);
  EXPECT_EQ(read_file(dir / "log"), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST(ChildProcess, ExecFailureIsReported) {
  auto missing = ChildProcess::spawn({"/nonexistent/program"}, "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
  auto not_in_path = ChildProcess::spawn({"runvm-no-such-program"}, "");
  ASSERT_FALSE(not_in_path.ok());
  EXPECT_NE(not_in_path.error().message.find("not found in PATH"), std::string::npos);
  TempDir dir;
  auto bad_log = ChildProcess::spawn({"true"}, dir / "missing-dir/log");
  EXPECT_FALSE(bad_log.ok());
}

TEST(ChildProcess, DestructorKillsAndReaps) {
  pid_t pid;
  {
    auto c = ChildProcess::spawn({"sleep", "1000"}, "");
    ASSERT_TRUE(c.ok());
    pid = c->pid();
    EXPECT_FALSE(c->exited());
    EXPECT_FALSE(*c->wait_exit(10ms));
  }
  EXPECT_TRUE(pid_gone(pid)) << "neither running nor a zombie";
}

TEST(ChildProcess, PidfdReportsExitWithoutReaping) {
  auto c = ChildProcess::spawn({"sleep", "1000"}, "");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->signal(SIGTERM).ok());
  EXPECT_TRUE(*c->wait_exit(10s));
  EXPECT_TRUE(c->exited());
  EXPECT_FALSE(c->reaped());
  auto status = c->wait();
  ASSERT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(describe_wait_status(*status), "killed by signal SIGTERM");
}

TEST(ChildProcess, DiesWithItsParent) {
  // An intermediate process spawns the child, reports its pid, and exits
  // without cleanup; PR_SET_PDEATHSIG must take the child down with it.
  int to_us[2], to_mid[2];
  ASSERT_EQ(::pipe(to_us), 0);
  ASSERT_EQ(::pipe(to_mid), 0);
  pid_t mid = ::fork();
  ASSERT_GE(mid, 0);
  if (mid == 0) {
    ::close(to_us[0]);
    ::close(to_mid[1]);
    auto c = ChildProcess::spawn({"sleep", "1000"}, "");
    pid_t pid = c.ok() ? c->pid() : -1;
    (void)!::write(to_us[1], &pid, sizeof pid);
    char b;
    (void)!::read(to_mid[0], &b, 1);
    ::_exit(0);  // no destructors: only the death signal can kill the child
  }
  ::close(to_us[1]);
  ::close(to_mid[0]);
  pid_t pid = -1;
  ASSERT_EQ(::read(to_us[0], &pid, sizeof pid), static_cast<ssize_t>(sizeof pid));
  ASSERT_GT(pid, 0);
  UniqueFd watch(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ASSERT_TRUE(watch.valid());
  ::close(to_mid[1]);
  ::close(to_us[0]);
  int st;
  ASSERT_EQ(::waitpid(mid, &st, 0), mid);
  pollfd p{watch.get(), POLLIN, 0};
  int ready = ::poll(&p, 1, 10000);
  if (ready != 1) ::syscall(SYS_pidfd_send_signal, watch.get(), SIGKILL, nullptr, 0);
  EXPECT_EQ(ready, 1) << "child outlived its parent";
}

}  // namespace
}  // namespace runvm
