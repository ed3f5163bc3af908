// The warm pool (issue 14, runvm-pool(8)) through the real runvm binary:
// units booted by `pool fill` are claimed by `run`/`create` (state.json
// names the unit), a claimed container passes the checks a cold one does,
// two concurrent creates never share a unit, a unit killed with SIGKILL is
// reported dead and cleaned up, and drain leaves no process, socket, mount
// or directory.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/runtime_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::BundleSpec;
using testing::read_file;
using testing::run_command;

class PoolTest : public testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    std::ofstream(config_) << "[vm]\nmemory_mib = 256\n[pool]\nsize = 2\n";
  }
  void TearDown() override {
    wait_for_fills();
    pool({"drain"});
    RuntimeTest::TearDown();
  }
  testing::CommandResult pool(std::vector<std::string> args) {
    args.insert(args.begin(), "pool");
    return cli(args);
  }
  // runvm with the test's runvm.toml.
  testing::CommandResult cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config_});
    return runvm(args);
  }
  // The background fills a claim started, done: they boot units the test
  // would otherwise race with (a drain before them leaves units behind).
  void wait_for_fills() {
    for (int i = 0; i < 6000 && !fills_running().empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(fills_running().empty());
  }
  std::vector<pid_t> fills_running() {
    return testing::processes_with_cmdline({root_.path(), std::string("pool\0fill", 9)});
  }
  // The units `pool status` lists in `state` ("idle", "dead", ...).
  int units_in(const std::string& state) {
    auto r = pool({"status"});
    std::istringstream in(r.out);
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      std::string cls, name, st;
      f >> cls >> name >> st;
      if (cls != "CLASS" && st == state) ++n;
    }
    return n;
  }
  // The unit a container's state names ("" for a cold start).
  std::string unit_of(const std::string& id) {
    std::string state = read_file(root_.path() + "/" + id + "/state.json");
    size_t at = state.find("\"pool-unit\":\"");
    if (at == std::string::npos) return "";
    at += 13;
    return state.substr(at, state.find('"', at) - at);
  }
  std::string config_ = files_.path() + "/runvm.toml";
};

TEST_F(PoolTest, ThreeRunsTheFirstTwoClaimAndAClaimedContainerIsAContainer) {
  auto filled = pool({"fill"});
  ASSERT_EQ(filled.status, 0) << filled.err;
  EXPECT_EQ(units_in("idle"), 2) << pool({"status"}).out;

  testing::TempDir shared;
  std::ofstream(shared.path() + "/file") << "through the bind\n";
  BundleSpec spec;
  spec.args = {"sh", "-c",
               "cat /marker /mnt/b/file; read line; echo \"in:$line\"; echo err >&2; exit 7"};
  spec.config_json = R"("mounts":[{"destination":"/mnt/b","type":"bind","source":")" +
                     shared.path() + R"(","options":["rbind","ro"]}])";
  Bundle bundle(spec);
  std::ofstream(bundle.rootfs() + "/marker") << "the rootfs\n";

  std::vector<std::string> units;
  for (const char* id : {"w1", "w2", "w3"}) {
    auto r = run_command(testing::runvm_argv(root_.path(), {"--config", config_, "run", "--keep",
                                                            "--bundle", bundle.dir(), id}),
                         "hello\n");
    ASSERT_TRUE(WIFEXITED(r.status)) << r.status << " " << r.err;
    EXPECT_EQ(WEXITSTATUS(r.status), 7) << r.err;
    EXPECT_EQ(r.out, "the rootfs\nthrough the bind\nin:hello\n") << id;
    EXPECT_EQ(r.err, "err\n") << id;
    units.push_back(unit_of(id));
    auto state = cli({"state", id});
    EXPECT_NE(state.out.find("\"status\": \"stopped\""), std::string::npos) << state.out;
    EXPECT_EQ(cli({"delete", id}).status, 0);
  }
  EXPECT_FALSE(units[0].empty());
  EXPECT_FALSE(units[1].empty());
  EXPECT_NE(units[0], units[1]);
  // The third is cold or a refilled unit: either is a new VM.
  if (!units[2].empty()) {
    EXPECT_TRUE(units[2] != units[0] && units[2] != units[1]);
  }
  // A claimed unit ended with its container: none is left claimed.
  wait_for_fills();
  EXPECT_EQ(units_in("claimed"), 0) << pool({"status"}).out;
  EXPECT_EQ(units_in("dead"), 0) << pool({"status"}).out;
}

// A unit's VM is killed as soon as its container ended (no guest shutdown):
// only once the container's relay read its output to EOF, as what the
// guest sent may still be queued in the unit's vsock device for a reader
// that takes it slowly.
TEST_F(PoolTest, AClaimedContainersOutputReachesASlowReaderWhole) {
  ASSERT_EQ(pool({"fill"}).status, 0);
  BundleSpec spec;
  spec.args = {"sh", "-c", "head -c 500000 /dev/zero; echo done >&2; exit 3"};
  Bundle bundle(spec);
  std::string cmd;
  for (const auto& a : testing::runvm_argv(
           root_.path(), {"--config", config_, "run", "--keep", "--bundle", bundle.dir(), "slow"}))
    cmd += "'" + a + "' ";
  // The reader starts late, after the container exited: its output waits
  // in our pipe, the relay's socket and (~230 KB of it) the unit's vsock
  // device, which a kill of the VM at the exit lost.
  auto r = run_command({"/bin/sh", "-c", cmd + "| (sleep 2; wc -c)"});
  EXPECT_EQ(r.out, "500000\n") << r.err;
  EXPECT_NE(r.err.find("done"), std::string::npos) << r.err;
  EXPECT_FALSE(unit_of("slow").empty());
  auto state = cli({"state", "slow"});
  EXPECT_NE(state.out.find("\"status\": \"stopped\""), std::string::npos) << state.out;
  EXPECT_EQ(cli({"delete", "slow"}).status, 0);
  wait_for_fills();
  EXPECT_EQ(units_in("claimed"), 0) << pool({"status"}).out;
}

TEST_F(PoolTest, TwoConcurrentCreatesNeverShareAUnit) {
  ASSERT_EQ(pool({"fill"}).status, 0);
  BundleSpec spec;
  spec.args = {"sleep", "600"};
  Bundle bundle(spec);
  std::vector<pid_t> creates;
  for (const char* id : {"c1", "c2"}) {
    auto argv = testing::runvm_argv(root_.path(),
                                    {"--config", config_, "create", "--bundle", bundle.dir(), id});
    creates.push_back(testing::spawn_to_files(argv, files_.path() + "/" + id + ".out",
                                              files_.path() + "/" + id + ".err"));
  }
  for (pid_t p : creates) {
    int status = -1;
    ASSERT_EQ(waitpid(p, &status, 0), p);
    EXPECT_EQ(status, 0) << read_file(files_.path() + "/c1.err")
                         << read_file(files_.path() + "/c2.err");
  }
  std::string u1 = unit_of("c1"), u2 = unit_of("c2");
  EXPECT_FALSE(u1.empty());
  EXPECT_FALSE(u2.empty());
  EXPECT_NE(u1, u2);
  EXPECT_EQ(units_in("claimed"), 2) << pool({"status"}).out;
  for (const char* id : {"c1", "c2"}) EXPECT_EQ(cli({"delete", "--force", id}).status, 0);
  EXPECT_EQ(units_in("claimed"), 0) << pool({"status"}).out;
}

TEST_F(PoolTest, KilledIdleUnitIsReportedDeadAndLeavesNothing) {
  std::ofstream(config_) << "[vm]\nmemory_mib = 256\n[pool]\nsize = 1\n";
  ASSERT_EQ(pool({"fill"}).status, 0);
  ASSERT_EQ(units_in("idle"), 1);
  // The unit's shim pid, from its unit file.
  std::string pool_dir = root_.path() + "/@pool";
  pid_t shim = 0;
  for (const auto& cls : std::filesystem::directory_iterator(pool_dir)) {
    if (!cls.is_directory()) continue;
    for (const auto& unit : std::filesystem::directory_iterator(cls.path()))
      std::ifstream(unit.path() / "unit") >> shim;
  }
  ASSERT_GT(shim, 0);
  ASSERT_EQ(kill(shim, SIGKILL), 0);
  // QEMU follows its shim (PR_SET_PDEATHSIG).
  for (int i = 0; i < 500 && !testing::qemu_processes_mentioning(root_.path()).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
  EXPECT_EQ(units_in("dead"), 1) << pool({"status"}).out;
  EXPECT_EQ(units_in("idle"), 0);
  // A fill drains it and boots a replacement; a drain removes that.
  auto filled = pool({"fill"});
  EXPECT_EQ(filled.out, "started 1, drained 1, 1 idle or booting\n") << filled.err;
  EXPECT_EQ(units_in("idle"), 1);
  EXPECT_EQ(units_in("dead"), 0);
  EXPECT_EQ(pool({"drain"}).out, "drained 1\n");
  EXPECT_TRUE(root_.entries().empty());
}

TEST_F(PoolTest, DrainLeavesNoProcessSocketOrMount) {
  ASSERT_EQ(pool({"fill"}).status, 0);
  EXPECT_EQ(units_in("idle"), 2);
  EXPECT_FALSE(testing::qemu_processes_mentioning(root_.path()).empty());
  EXPECT_EQ(pool({"drain"}).out, "drained 2\n");
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
  EXPECT_TRUE(root_.entries().empty());  // no @pool, no @s socket dirs
  EXPECT_EQ(read_file("/proc/self/mountinfo").find(root_.path()), std::string::npos);
  EXPECT_EQ(pool({"status"}).out.find("idle"), std::string::npos);
}

}  // namespace
}  // namespace runvm
