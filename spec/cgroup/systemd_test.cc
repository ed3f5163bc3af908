#include "spec/cgroup/systemd.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spec/cgroup/fake_systemd.h"
#include "tests/support/require.h"
#include "tests/support/temp_dir.h"

namespace runvm::cgroup {
namespace {

TEST(SystemdPath, AsRuncReadsIt) {
  auto u = parse_systemd_path("machine.slice:libpod:abc");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->slice, "machine.slice");
  EXPECT_EQ(u->unit, "libpod-abc.scope");
  auto d = parse_systemd_path(":runvm:c1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->slice, "system.slice");
  EXPECT_EQ(d->unit, "runvm-c1.scope");
  EXPECT_EQ(parse_systemd_path("system.slice::c1")->unit, "c1.scope");
  EXPECT_EQ(parse_systemd_path("/a/b").error().message,
            "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got "
            "\"/a/b\" instead");
  EXPECT_FALSE(parse_systemd_path("a:b:c:d").ok());
  EXPECT_EQ(parse_systemd_path("user:p:n").error().message,
            "cgroupsPath \"user:p:n\": user is not a slice (*.slice)");
  EXPECT_EQ(parse_systemd_path("system.slice:p:").error().message,
            "cgroupsPath \"system.slice:p:\": no unit name");
  EXPECT_EQ(parse_systemd_path("system.slice:p:a/b").error().message,
            "cgroupsPath \"system.slice:p:a/b\": not a valid unit name");
}

TEST(Systemd, NotRunningIsOneClearLine) {
  setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/system_bus_socket", 1);
  auto r = start_scope({"system.slice", "runvm-x.scope"}, getpid(), {}, true);
  unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "systemd is not running (cannot reach the system bus: No such file or directory)");
}

// Against a private dbus-daemon with the fake systemd: the call runc's
// driver makes, the scope's cgroup holding the pid, and StopUnit.
TEST(Systemd, StartAndStopAScopeOverDbus) {
  RUNVM_REQUIRE(geteuid() == 0, "root (the fake makes cgroups)");
  RUNVM_REQUIRE(system("command -v dbus-daemon >/dev/null") == 0, "dbus-daemon");
  auto layout = detect_layout();
  RUNVM_REQUIRE(layout.ok() && layout->with("memory"), "cgroupfs with memory");
  testing::TempDir dir;
  std::string base = "runvm-fake-systemd-" + std::to_string(getpid());
  auto fake = FakeSystemd::start(dir.path(), *layout, base);
  ASSERT_TRUE(fake.ok()) << fake.error().message;

  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  Limits limits{.memory_bytes = 384ll << 20,
                .cpu_shares = 2048,
                .cpu_quota_us = 50000,
                .cpu_period_us = 100000};
  auto started = start_scope({"system.slice", "runvm-test.scope"}, child, limits, true);
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto calls = (*fake)->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0],
            "StartTransientUnit runvm-test.scope replace\n"
            "Description=runvm container runvm-test.scope\n"
            "Slice=system.slice\n"
            "Delegate=true\n"
            "PIDs=" +
                std::to_string(child) +
                "\n"
                "DefaultDependencies=false\n"
                "MemoryAccounting=true\n"
                "CPUAccounting=true\n"
                "TasksAccounting=true\n"
                "MemoryLimit=402653184\n"
                "CPUShares=2048\n"
                "CPUQuotaPerSecUSec=500000\n"
                "CPUQuotaPeriodUSec=100000");
  auto cg = Cgroup::resolve(*layout, (*fake)->cgroup_path("system.slice", "runvm-test.scope"));
  ASSERT_TRUE(cg.ok());
  EXPECT_EQ(cg->pids(), std::vector<pid_t>{child});

  // runvm update: the running unit's new limits, for its runtime; no quota
  // is systemd's infinity.
  auto set = set_unit_limits(
      "runvm-test.scope", {.memory_bytes = 256ll << 20, .cpu_quota_us = -1, .cpu_period_us = 50000},
      true);
  ASSERT_TRUE(set.ok()) << set.error().message;
  auto unknown = set_unit_limits("runvm-none.scope", {.memory_bytes = 1}, true);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message,
            "systemd unit runvm-none.scope: Unit runvm-none.scope not loaded.");

  auto stopped = stop_unit("runvm-test.scope");
  ASSERT_TRUE(stopped.ok()) << stopped.error().message;
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  calls = (*fake)->calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[1],
            "SetUnitProperties runvm-test.scope true\n"
            "MemoryLimit=268435456\n"
            "CPUQuotaPerSecUSec=18446744073709551615\n"
            "CPUQuotaPeriodUSec=50000");
  EXPECT_EQ(calls[2], "SetUnitProperties runvm-none.scope true\nMemoryLimit=1");
  EXPECT_EQ(calls[3], "StopUnit runvm-test.scope replace");
  for (const auto& d : cg->dirs()) EXPECT_NE(access(d.path.c_str(), F_OK), 0) << d.path;

  // cgroup v2's names, and the cpuset as systemd's CPU mask (AllowedCPUs:
  // CPUs 0, 1 and 9 are bytes 0x03 0x02).
  pid_t other = fork();
  if (other == 0) {
    pause();
    _exit(0);
  }
  auto v2 =
      start_scope({"system.slice", "runvm-v2.scope"}, other,
                  {.memory_bytes = 1 << 20, .cpu_shares = 2048, .cpuset_cpus = "0-1,9"}, false);
  ASSERT_TRUE(v2.ok()) << v2.error().message;
  calls = (*fake)->calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_NE(calls[4].find("\nMemoryMax=1048576\nCPUWeight=79\nAllowedCPUs=0302"), std::string::npos)
      << calls[4];
  auto bad = set_unit_limits("runvm-v2.scope", {.cpuset_cpus = "1-0"}, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "AllowedCPUs: cpuset \"1-0\" is not a CPU list");
  ASSERT_TRUE(stop_unit("runvm-v2.scope").ok());
  EXPECT_EQ(waitpid(other, &status, 0), other);
  // A unit that is not there: nothing to stop.
  EXPECT_TRUE(stop_unit("runvm-test.scope").ok());
}

}  // namespace
}  // namespace runvm::cgroup
