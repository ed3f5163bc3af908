// The container's host cgroup through the real runvm: `create` makes
// linux.cgroupsPath in every hierarchy (v1 and the hybrid cgroup2 mount
// here), the shim and QEMU are in it from their start, the memory limit is
// the guest's RAM plus runvm.toml's overhead budget, and `delete` removes it.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "spec/base/json.h"
#include "spec/cgroup/cgroup.h"
#include "spec/cgroup/fake_systemd.h"
#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::read_file;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string trimmed(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

class HostCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_VM_ASSETS();
    RUNVM_REQUIRE(geteuid() == 0, "root (to make cgroups)");
    auto l = cgroup::detect_layout();
    RUNVM_REQUIRE(l.ok() && l->with("memory"), "cgroupfs with the memory controller");
    layout_ = std::move(*l);
  }
  testing::CommandResult runvm(std::vector<std::string> args) {
    std::vector<std::string> argv = {runvm_binary(), "--root", root_.path(), "--config", config_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  TempDir root_, files_;  // first: config_ is made from files_
  // Relative: under this test's own cgroup, which it must not leave.
  std::string path_ = "runvm-itest-" + std::to_string(getpid());
  std::string config_ = files_.path() + "/runvm.toml";
  cgroup::Layout layout_;
};

TEST_F(HostCgroupTest, ShimAndQemuJoinAtCreateDeleteRemovesIt) {
  std::ofstream(config_) << "[vm]\nmemory_mib = 192\noverhead_mib = 100\n";
  Bundle b({.args = {"sleep", "60"},
            .config_json = "\"linux\":{\"cgroupsPath\":\"" + path_ +
                           "\",\"resources\":{\"memory\":{\"limit\":134217728},"
                           "\"cpu\":{\"quota\":50000,\"period\":100000}}}"});
  auto cg = cgroup::Cgroup::resolve(layout_, path_);
  ASSERT_TRUE(cg.ok());
  // `create` leaves the shim running: its stdio goes to files.
  std::string cmd = runvm_binary() + " --root " + root_.path() + " --config " + config_ +
                    " create -b " + b.dir() + " cg </dev/null >" + files_.path() + "/out 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0) << read_file(files_.path() + "/out");
  auto state = json::Document::parse(runvm({"state", "cg"}).out);
  ASSERT_TRUE(state.ok());
  pid_t shim = static_cast<pid_t>(*(*state->root().at("pid")).as_int());
  // In every hierarchy: the shim and its child QEMU, and nothing else.
  for (const auto& d : cg->dirs()) {
    std::string procs = trimmed(read_file(d.path + "/cgroup.procs"));
    EXPECT_NE(procs.find(std::to_string(shim)), std::string::npos) << d.path << ": " << procs;
    EXPECT_EQ(std::count(procs.begin(), procs.end(), '\n'), 1) << d.path << ": " << procs;
  }
  std::string qemu_cmdline;
  for (pid_t pid : cg->pids())
    if (pid != shim) qemu_cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  EXPECT_NE(qemu_cmdline.find("qemu-system"), std::string::npos) << qemu_cmdline;
  // The guest sized by the 128 MiB limit (not runvm.toml's 192) plus the
  // 100 MiB budget.
  if (layout_.with("memory")->version == 1) {
    EXPECT_EQ(trimmed(read_file(cg->dir_of("memory") + "/memory.limit_in_bytes")),
              std::to_string(228ll << 20));
  }
  if (const auto* cpu = layout_.with("cpu"); cpu && cpu->version == 1) {
    EXPECT_EQ(trimmed(read_file(cg->dir_of("cpu") + "/cpu.cfs_quota_us")), "50000");
  }

  auto deleted = runvm({"delete", "--force", "cg"});
  EXPECT_EQ(deleted.status, 0) << deleted.err;
  for (const auto& d : cg->dirs()) EXPECT_FALSE(exists(d.path)) << d.path;
  EXPECT_TRUE(root_.entries().empty());
}

// A warm start (runvm-pool(8)): the claimed unit's shim and QEMU, booted
// before the container existed, move into its cgroup with its relay (its
// pid); delete removes the cgroup and the unit.
TEST_F(HostCgroupTest, AClaimedPoolUnitJoinsTheContainersCgroup) {
  std::ofstream(config_) << "[vm]\nmemory_mib = 192\n[pool]\nsize = 1\n";
  ASSERT_EQ(runvm({"pool", "fill"}).status, 0);
  Bundle b(
      {.args = {"sleep", "60"}, .config_json = "\"linux\":{\"cgroupsPath\":\"" + path_ + "\"}"});
  auto cg = cgroup::Cgroup::resolve(layout_, path_);
  ASSERT_TRUE(cg.ok());
  std::string cmd = runvm_binary() + " --root " + root_.path() + " --config " + config_ +
                    " create -b " + b.dir() + " cg </dev/null >" + files_.path() + "/out 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0) << read_file(files_.path() + "/out");
  auto state = json::Document::parse(read_file(root_.path() + "/cg/state.json"));
  ASSERT_TRUE(state.ok());
  pid_t relay = static_cast<pid_t>(*(*state->root().at("pid")).as_int());
  std::string text = read_file(root_.path() + "/cg/state.json");
  size_t at = text.find("\"pool-unit\":\"");
  ASSERT_NE(at, std::string::npos) << text;
  at += 13;
  std::string unit = text.substr(at, text.find('"', at) - at);
  pid_t shim = 0;
  std::ifstream(root_.path() + "/@pool/" + unit + "/unit") >> shim;
  ASSERT_GT(shim, 0);
  for (const auto& d : cg->dirs()) {
    std::string procs = trimmed(read_file(d.path + "/cgroup.procs"));
    EXPECT_NE(procs.find(std::to_string(relay)), std::string::npos) << d.path << ": " << procs;
    EXPECT_NE(procs.find(std::to_string(shim)), std::string::npos) << d.path << ": " << procs;
    EXPECT_EQ(std::count(procs.begin(), procs.end(), '\n'), 2) << d.path << ": " << procs;
  }
  std::string qemu_cmdline;
  for (pid_t pid : cg->pids())
    if (pid != shim && pid != relay)
      qemu_cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  EXPECT_NE(qemu_cmdline.find("qemu-system"), std::string::npos) << qemu_cmdline;

  auto deleted = runvm({"delete", "--force", "cg"});
  EXPECT_EQ(deleted.status, 0) << deleted.err;
  for (const auto& d : cg->dirs()) EXPECT_FALSE(exists(d.path)) << d.path;
  // The claim's background refill first (create returned once it ran).
  for (int i = 0; i < 6000; ++i) {
    if (testing::processes_with_cmdline({root_.path(), std::string("pool\0fill", 9)}).empty())
      break;
    usleep(10 * 1000);
  }
  EXPECT_EQ(runvm({"pool", "drain"}).out, "drained 1\n");
  EXPECT_TRUE(root_.entries().empty());
}

TEST_F(HostCgroupTest, ForegroundRunRemovesItAndABadPathIsOneLine) {
  std::ofstream(config_) << "";
  Bundle b({.args = {"true"}, .config_json = "\"linux\":{\"cgroupsPath\":\"" + path_ + "\"}"});
  auto r = runvm({"run", "-b", b.dir(), "fg"});
  EXPECT_EQ(r.status, 0) << r.err;
  auto cg = cgroup::Cgroup::resolve(layout_, path_);
  ASSERT_TRUE(cg.ok());
  for (const auto& d : cg->dirs()) EXPECT_FALSE(exists(d.path)) << d.path;

  Bundle bad({.args = {"true"}, .config_json = R"("linux":{"cgroupsPath":"../escape"})"});
  auto refused = runvm({"run", "-b", bad.dir(), "bad"});
  EXPECT_EQ(refused.err,
            "runvm: run bad: config.json: linux.cgroupsPath: cgroup path ../escape: \"..\" is not "
            "allowed\n");
  EXPECT_TRUE(root_.entries().empty());
}

// A create that fails once the shim and QEMU are in the cgroup (here a
// createRuntime hook) leaves neither them nor the cgroup behind.
TEST_F(HostCgroupTest, FailedCreateRemovesIt) {
  std::ofstream(config_) << "";
  Bundle b({.args = {"true"},
            .config_json = "\"linux\":{\"cgroupsPath\":\"" + path_ +
                           "\"},\"hooks\":{\"createRuntime\":[{\"path\":\"/bin/false\"}]}"});
  auto r = runvm({"create", "-b", b.dir(), "hook"});
  EXPECT_NE(r.status, 0);
  auto cg = cgroup::Cgroup::resolve(layout_, path_);
  ASSERT_TRUE(cg.ok());
  for (const auto& d : cg->dirs()) EXPECT_FALSE(exists(d.path)) << d.path;
  EXPECT_TRUE(root_.entries().empty());
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
}

// --systemd-cgroup against a fake systemd on a private bus: create starts a
// transient scope holding the shim before it runs (QEMU follows), delete
// stops it.
TEST_F(HostCgroupTest, SystemdScopeHoldsShimAndQemu) {
  RUNVM_REQUIRE(system("command -v dbus-daemon >/dev/null") == 0, "dbus-daemon");
  std::ofstream(config_) << "[vm]\noverhead_mib = 100\n";
  auto fake = cgroup::FakeSystemd::start(files_.path(), layout_, path_);
  ASSERT_TRUE(fake.ok()) << fake.error().message;
  std::string scope = "runvm-sd" + std::to_string(getpid());
  Bundle b({.args = {"sleep", "60"},
            .config_json = "\"linux\":{\"cgroupsPath\":\"machine.slice:runvm:sd" +
                           std::to_string(getpid()) + "\"}"});
  std::string cmd = runvm_binary() + " --root " + root_.path() + " --config " + config_ +
                    " --systemd-cgroup create -b " + b.dir() + " sd </dev/null >" + files_.path() +
                    "/out 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0) << read_file(files_.path() + "/out");
  auto calls = (*fake)->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(calls[0].starts_with("StartTransientUnit " + scope + ".scope replace\n")) << calls[0];
  EXPECT_NE(calls[0].find("\nSlice=machine.slice\n"), std::string::npos) << calls[0];
  EXPECT_NE(calls[0].find("\nDelegate=true\n"), std::string::npos) << calls[0];
  // The guest's default 2048 MiB plus the 100 MiB budget.
  EXPECT_NE(calls[0].find("=" + std::to_string(2148ll << 20)), std::string::npos) << calls[0];
  auto state = json::Document::parse(runvm({"state", "sd"}).out);
  ASSERT_TRUE(state.ok());
  pid_t shim = static_cast<pid_t>(*(*state->root().at("pid")).as_int());
  EXPECT_NE(calls[0].find("\nPIDs=" + std::to_string(shim) + "\n"), std::string::npos) << calls[0];
  auto cg =
      cgroup::Cgroup::resolve(layout_, (*fake)->cgroup_path("machine.slice", scope + ".scope"));
  ASSERT_TRUE(cg.ok());
  auto pids = cg->pids();
  EXPECT_EQ(pids.size(), 2u);  // the shim and QEMU
  EXPECT_NE(std::find(pids.begin(), pids.end(), shim), pids.end());

  // runvm update: the scope's properties through SetUnitProperties, the CPU
  // first; the memory limit lowered (1 GiB plus the budget) once the
  // balloon took the guest's RAM.
  ASSERT_EQ(runvm({"start", "sd"}).status, 0);
  auto updated =
      runvm({"--systemd-cgroup", "update", "--cpu-quota", "150000", "--memory", "1g", "sd"});
  EXPECT_EQ(updated.status, 0) << updated.err;
  calls = (*fake)->calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[1], "SetUnitProperties " + scope +
                          ".scope true\nCPUQuotaPerSecUSec=1500000\nCPUQuotaPeriodUSec=100000");
  EXPECT_EQ(calls[2], "SetUnitProperties " + scope +
                          ".scope true\nMemoryLimit=" + std::to_string(1124ll << 20));

  auto deleted = run_command(
      {runvm_binary(), "--root", root_.path(), "--systemd-cgroup", "delete", "--force", "sd"});
  EXPECT_EQ(deleted.status, 0) << deleted.err;
  calls = (*fake)->calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[3], "StopUnit " + scope + ".scope replace");
  for (const auto& d : cg->dirs()) EXPECT_FALSE(exists(d.path)) << d.path;
  EXPECT_TRUE(root_.entries().empty());
}

TEST_F(HostCgroupTest, SystemdNotRunningIsOneLine) {
  std::ofstream(config_) << "";
  setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/system_bus_socket", 1);
  Bundle b({.args = {"true"}, .config_json = R"("linux":{"cgroupsPath":"system.slice:runvm:x"})"});
  auto r = run_command({runvm_binary(), "--root", root_.path(), "--config", config_,
                        "--systemd-cgroup", "run", "-b", b.dir(), "x"});
  unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  EXPECT_EQ(r.err,
            "runvm: run x: --systemd-cgroup: systemd is not running (cannot reach the system bus: "
            "No such file or directory)\n");
  EXPECT_TRUE(root_.entries().empty());
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
}

}  // namespace
}  // namespace runvm
