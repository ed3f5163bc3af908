// Each role's filter in a forked child (confinement is per process once
// enabled): allowed syscalls work, a forbidden one kills the process with
// SIGSYS, and every listed name is a syscall of this architecture.
#include "shim/confine/confine.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "shim/confine/allow_lists.h"

namespace runvm::confine {
namespace {

// Runs `body` in a child confined to `role`; returns its wait status.
template <typename F>
int in_confined_child(Role role, F body) {
  pid_t pid = fork();
  if (pid == 0) {
    enable();
    if (!confine_thread(role).ok()) _exit(100);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

std::string status_field(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

TEST(Confine, ListsNameRealSyscallsOnce) {
  for (Role r : {Role::kControl, Role::kDevice, Role::kStdio}) {
    std::set<std::string> seen;
    for (const auto& name : allowed_syscalls(r)) {
      EXPECT_NE(seccomp_syscall_resolve_name(name.c_str()), __NR_SCMP_ERROR) << name;
      EXPECT_TRUE(seen.insert(name).second) << role_name(r) << " lists " << name << " twice";
    }
  }
  // The device threads parse guest data: nothing there creates processes,
  // threads or mounts, or changes filters.
  for (const auto& name : allowed_syscalls(Role::kDevice))
    for (const char* never : {"clone", "clone3", "fork", "vfork", "execve", "execveat", "mount",
                              "umount2", "ptrace", "seccomp", "prctl", "kill", "setns", "unshare"})
      EXPECT_NE(name, never);
}

TEST(Confine, StdioRoleAllowsItsCopyAndKillsOnAnythingElse) {
  int ok = in_confined_child(Role::kStdio, [] { return write(STDERR_FILENO, "", 0) == 0 ? 0 : 1; });
  EXPECT_TRUE(WIFEXITED(ok) && WEXITSTATUS(ok) == 0) << ok;
  int killed = in_confined_child(Role::kStdio, [] { return static_cast<int>(getppid()); });
  EXPECT_TRUE(WIFSIGNALED(killed) && WTERMSIG(killed) == SIGSYS) << killed;
}

TEST(Confine, DeviceRoleKillsOnTheTestHookSyscall) {
  int killed = in_confined_child(Role::kDevice, [] {
    call_forbidden_syscall();
    return 0;
  });
  EXPECT_TRUE(WIFSIGNALED(killed) && WTERMSIG(killed) == SIGSYS) << killed;
}

TEST(Confine, ControlRoleRefusesForkButMakesThreads) {
  // A StdioPump's way: a thread that confines itself to the stdio role.
  int threads = in_confined_child(Role::kControl, [] {
    bool ok = false;
    std::thread([&ok] { ok = confine_thread(Role::kStdio).ok(); }).join();
    return ok ? 0 : 1;
  });
  EXPECT_TRUE(WIFEXITED(threads) && WEXITSTATUS(threads) == 0) << threads;
  int forked = in_confined_child(Role::kControl, [] {
    (void)fork();
    return 0;
  });
  EXPECT_TRUE(WIFSIGNALED(forked) && WTERMSIG(forked) == SIGSYS) << forked;
}

TEST(Confine, ThreadGetsSeccompModeAndRoleCapabilities) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (capabilities)";
  for (Role role : {Role::kStdio, Role::kDevice}) {
    int ready[2], hold[2];
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(hold), 0);
    pid_t pid = fork();
    if (pid == 0) {
      enable();
      if (!confine_thread(role).ok()) _exit(100);
      char c = 0;
      (void)!write(ready[1], &c, 1);
      (void)!read(hold[0], &c, 1);  // until the parent looked
      _exit(0);
    }
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    uint64_t want = 0;
    for (int cap : capabilities(role, {})) want |= 1ull << cap;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(want));
    EXPECT_EQ(status_field(pid, "Seccomp"), "\t2") << role_name(role);
    EXPECT_EQ(status_field(pid, "NoNewPrivs"), "\t1") << role_name(role);
    EXPECT_EQ(status_field(pid, "CapEff"), std::string("\t") + hex) << role_name(role);
    EXPECT_EQ(status_field(pid, "CapPrm"), std::string("\t") + hex) << role_name(role);
    EXPECT_EQ(status_field(pid, "Name"), std::string("\trunvm-") + role_name(role));
    (void)!write(hold[1], &c, 1);
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
    for (int fd : {ready[0], ready[1], hold[0], hold[1]}) close(fd);
  }
}

TEST(Confine, NothingHappensUntilEnabled) {
  pid_t pid = fork();
  if (pid == 0) _exit(confine_thread(Role::kStdio).ok() && getppid() > 0 ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace runvm::confine
