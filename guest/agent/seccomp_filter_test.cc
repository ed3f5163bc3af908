#include "guest/agent/seccomp_filter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace runvm::agent {
namespace {

proto::Seccomp mkdir_fails_with(uint32_t errno_ret) {
  proto::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};
  s.syscalls = {{{"mkdir", "mkdirat", "no_such_syscall"}, "SCMP_ACT_ERRNO", errno_ret, {}},
                // Same action as the default: dropped, not an error.
                {{"getpid"}, "SCMP_ACT_ALLOW", std::nullopt, {}},
                // Repeated index: separate rules.
                {{"kill"},
                 "SCMP_ACT_ERRNO",
                 std::nullopt,
                 {{1, 10, 0, "SCMP_CMP_EQ"}, {1, 12, 0, "SCMP_CMP_EQ"}}}};
  return s;
}

TEST(SeccompFilter, LoadedFilterMakesMkdirFailWithErrnoRet) {
  auto filter = SeccompFilter::build(mkdir_fails_with(EACCES));
  ASSERT_TRUE(filter.ok()) << filter.error().message;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!filter->load().ok()) _exit(10);
    if (mkdir("/tmp/runvm-seccomp-test-never", 0700) == 0) _exit(11);
    if (errno != EACCES) _exit(12);
    if (kill(getpid(), 12) == 0 || errno != EPERM) _exit(13);
    if (kill(getpid(), 0) != 0) _exit(14);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SeccompFilter, BadProfilesAreErrors) {
  proto::Seccomp s = mkdir_fails_with(1);
  s.syscalls[0].action = "SCMP_ACT_NOTIFY";
  EXPECT_FALSE(SeccompFilter::build(s).ok());
  s = mkdir_fails_with(1);
  s.architectures = {"SCMP_ARCH_VAX"};
  EXPECT_FALSE(SeccompFilter::build(s).ok());
  s = mkdir_fails_with(1);
  s.syscalls[2].args[0].op = "SCMP_CMP_XX";
  EXPECT_FALSE(SeccompFilter::build(s).ok());
  s = mkdir_fails_with(70000);
  EXPECT_FALSE(SeccompFilter::build(s).ok());
  s = mkdir_fails_with(1);
  s.flags = {"SECCOMP_FILTER_FLAG_NOPE"};
  EXPECT_FALSE(SeccompFilter::build(s).ok());
  s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
  EXPECT_TRUE(SeccompFilter::build(s).ok());
}

}  // namespace
}  // namespace runvm::agent
