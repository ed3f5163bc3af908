#include "guest/agent/process_sched.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace runvm::agent {
namespace {

TEST(ProcessSched, IoprioValues) {
  EXPECT_EQ(*ioprio_value({"IOPRIO_CLASS_RT", 0}), 1 << 13);
  EXPECT_EQ(*ioprio_value({"IOPRIO_CLASS_BE", 7}), 2 << 13 | 7);
  EXPECT_EQ(*ioprio_value({"IOPRIO_CLASS_IDLE", 0}), 3 << 13);
  EXPECT_EQ(ioprio_value({"IOPRIO_CLASS_NONE", 0}).error().message,
            "process.ioPriority.class: unknown class \"IOPRIO_CLASS_NONE\"");
  EXPECT_FALSE(ioprio_value({"IOPRIO_CLASS_BE", 8}).ok());
}

TEST(ProcessSched, SchedAttr) {
  auto a = sched_attr_of({"SCHED_DEADLINE",
                          0,
                          0,
                          {"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM"},
                          1000,
                          2000,
                          3000});
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->size, 56u);  // SCHED_ATTR_SIZE_VER1
  EXPECT_EQ(a->policy, 6u);
  EXPECT_EQ(a->flags, 3u);
  EXPECT_EQ(a->runtime, 1000u);
  EXPECT_EQ(a->period, 3000u);
  EXPECT_EQ(sched_attr_of({"SCHED_ISO", 0, 0, {}, 0, 0, 0}).error().message,
            "process.scheduler.policy: \"SCHED_ISO\" is not supported by the guest kernel");
  EXPECT_FALSE(sched_attr_of({"SCHED_OTHER", 0, 0, {"SCHED_FLAG_FOO"}, 0, 0, 0}).ok());
}

// In a child: the settings are the process's own and stay with it.
TEST(ProcessSched, AppliedToTheCallingProcess) {
  pid_t pid = fork();
  if (pid == 0) {
    bool ok = apply_scheduler({"SCHED_BATCH", 7, 0, {}, 0, 0, 0}).ok() &&
              apply_io_priority({"IOPRIO_CLASS_BE", 5}).ok();
    ok = ok && sched_getscheduler(0) == SCHED_BATCH && getpriority(PRIO_PROCESS, 0) == 7 &&
         syscall(SYS_ioprio_get, 1, 0) == (2 << 13 | 5);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace runvm::agent
