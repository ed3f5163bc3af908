// The warm pool (issue 14, runvm-pool(8)) through the real runvm binary:
// units booted by `pool fill` are claimed by `run`/`create` (state.json
// names the unit), a claimed container passes the checks a cold one does,
// two concurrent creates never share a unit, a unit killed with SIGKILL is
// reported dead and cleaned up, drain leaves no process, socket, mount or
// directory, and the refill after a claim is started by the unit's watcher:
// never a descendant of the claiming caller (conmon, a subreaper, would wait
// for it) nor in the claimed container's cgroup.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "spec/base/state_layout.h"
#include "spec/base/unique_fd.h"
#include "spec/cgroup/cgroup.h"
#include "tests/integration/pool_fixture.h"
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
  // The pids a subreaper test's child listed, one a line.
  static std::set<pid_t> pids_in(const std::string& file) {
    std::set<pid_t> pids;
    std::ifstream in(file);
    for (pid_t p; in >> p;) pids.insert(p);
    return pids;
  }
  std::vector<pid_t> watchers_running() {
    return testing::processes_with_cmdline({root_.path(), std::string("pool\0watch", 10)});
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
  // With a pool of one 256 MiB unit filled: `id` of `bundle` created (it
  // claims the unit) and started; `unit` its unit ("class/name"), `shim`
  // that unit's shim.
  void claim_and_start(const Bundle& bundle, const std::string& id, std::string& unit,
                       pid_t& shim) {
    std::ofstream(config_) << "[vm]\nmemory_mib = 256\n[pool]\nsize = 1\n";
    ASSERT_EQ(pool({"fill"}).status, 0);
    int st = testing::run_to_files(
        testing::runvm_argv(root_.path(),
                            {"--config", config_, "create", "--bundle", bundle.dir(), id}),
        files_.path() + "/out", files_.path() + "/err");
    ASSERT_EQ(st, 0) << read_file(files_.path() + "/err");
    unit = testing::pool_unit_of(root_.path(), id);
    ASSERT_FALSE(unit.empty());
    ASSERT_EQ(cli({"start", id}).status, 0);
    std::ifstream(root_.path() + "/@pool/" + unit + "/unit") >> shim;
    ASSERT_GT(shim, 0);
  }
  // A deleted container's unit ends on its own, after delete returned
  // (runvm-pool(8)): within seconds, even under TCG.
  int claimed_after_ending() {
    // Its dir too: a drain before the shim removed it all (it is "starting"
    // once its unit file went) keeps the pool dir.
    auto ending = [this] { return units_in("claimed") + units_in("dead") + units_in("starting"); };
    for (int i = 0; i < 1000 && ending() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return units_in("claimed");
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
    units.push_back(testing::pool_unit_of(root_.path(), id));
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
  EXPECT_EQ(claimed_after_ending(), 0) << pool({"status"}).out;
  EXPECT_EQ(units_in("dead"), 0) << pool({"status"}).out;
}

// An idle unit has rehearsed a container (guest/agent/rehearsal.h) before it
// reported ready, without an error, leaving nothing in its share, and its claimed container is a
// plain one (the ThreeRuns test above checks the rest).
TEST_F(PoolTest, AnIdleUnitHasRehearsedAContainer) {
  // --debug: the agent traces its phases on the unit's console.
  auto filled = cli({"--debug", "pool", "fill"});
  ASSERT_EQ(filled.status, 0) << filled.err;
  int consoles = 0;
  std::error_code ec;
  for (const auto& cls : std::filesystem::directory_iterator(root_.path() + "/@pool", ec)) {
    if (!cls.is_directory()) continue;
    for (const auto& unit : std::filesystem::directory_iterator(cls.path(), ec)) {
      std::string console = read_file(unit.path().string() + "/console.log");
      if (console.empty()) continue;
      ++consoles;
      EXPECT_NE(console.find("runvm-agent: phase rehearsed"), std::string::npos) << console;
      EXPECT_EQ(console.find("runvm-agent: rehearsal:"), std::string::npos) << console;
      // Before the hello: a claim never waits for it.
      EXPECT_LT(console.find("phase rehearsed"), console.find("phase hello_sent")) << console;
      // Its container's phases are marked as the rehearsal's: a claimed
      // container's timeline (this console) has its own init_* ones.
      EXPECT_NE(console.find("phase rehearsal/init_ready"), std::string::npos) << console;
      EXPECT_EQ(console.find("phase init_"), std::string::npos) << console;
      // Through the agent's own create and start: with its stdio relays,
      // and a root (its scratch tree) on the unit's share, removed again.
      EXPECT_LT(console.find("phase rehearsal/stdio_open"), console.find("phase rehearsed"))
          << console;
      EXPECT_LT(console.find("phase rehearsal/exit_sent"), console.find("phase rehearsed"))
          << console;
      EXPECT_TRUE(std::filesystem::is_empty(unit.path() / layout::kPodDir, ec))
          << unit.path() << ": " << ec.message();
    }
  }
  EXPECT_EQ(consoles, 2);
  BundleSpec spec;
  spec.args = {"sh", "-c", "hostname; cat /proc/self/cgroup"};
  Bundle bundle(spec);
  auto r = run_command(testing::runvm_argv(root_.path(), {"--config", config_, "run", "--keep",
                                                          "--bundle", bundle.dir(), "after"}),
                       "");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(testing::pool_unit_of(root_.path(), "after").empty());
  // Not the rehearsal's hostname or cgroup: the guest's and its own.
  EXPECT_EQ(r.out.find("rehearsal"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0::/\n"), std::string::npos) << r.out;
  EXPECT_EQ(cli({"delete", "after"}).status, 0);
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
  EXPECT_FALSE(testing::pool_unit_of(root_.path(), "slow").empty());
  auto state = cli({"state", "slow"});
  EXPECT_NE(state.out.find("\"status\": \"stopped\""), std::string::npos) << state.out;
  EXPECT_EQ(cli({"delete", "slow"}).status, 0);
  wait_for_fills();
  EXPECT_EQ(claimed_after_ending(), 0) << pool({"status"}).out;
}

// A reader slower than every 5 s cap and than the guest kernel's 8 s close
// timeout still gets every byte of a claimed container's output: the caps
// re-arm while it reads, and what the unit's vsock device held at the
// guest's RST is still delivered (ContainerTest's slow reader, claimed;
// the test of it at 32 KB/s lost output in 1 of 3 runs).
TEST_F(PoolTest, AClaimedContainersOutputReachesAReaderSlowerThanTheCaps) {
  ASSERT_EQ(pool({"fill"}).status, 0);
  BundleSpec spec;
  spec.args = {"sh", "-c", "seq 1 100000; exit 3"};
  Bundle bundle(spec);
  auto r = testing::run_into_slow_reader(testing::runvm_argv(
      root_.path(), {"--config", config_, "run", "--keep", "--bundle", bundle.dir(), "slower"}));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.code, "3\n");
  EXPECT_TRUE(r.out == testing::seq_output(100000)) << r.out.size() << " bytes, not seq's";
  EXPECT_FALSE(testing::pool_unit_of(root_.path(), "slower").empty());
  EXPECT_EQ(cli({"delete", "slower"}).status, 0);
  wait_for_fills();
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
  std::string u1 = testing::pool_unit_of(root_.path(), "c1"),
              u2 = testing::pool_unit_of(root_.path(), "c2");
  EXPECT_FALSE(u1.empty());
  EXPECT_FALSE(u2.empty());
  EXPECT_NE(u1, u2);
  EXPECT_EQ(units_in("claimed"), 2) << pool({"status"}).out;
  for (const char* id : {"c1", "c2"}) EXPECT_EQ(cli({"delete", "--force", id}).status, 0);
  EXPECT_EQ(claimed_after_ending(), 0) << pool({"status"}).out;
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
  EXPECT_TRUE(watchers_running().empty());
}

TEST_F(PoolTest, DrainLeavesNoProcessSocketOrMount) {
  ASSERT_EQ(pool({"fill"}).status, 0);
  EXPECT_EQ(units_in("idle"), 2);
  EXPECT_FALSE(testing::qemu_processes_mentioning(root_.path()).empty());
  EXPECT_EQ(watchers_running().size(), 2u);  // one per unit
  EXPECT_EQ(pool({"drain"}).out, "drained 2\n");
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
  EXPECT_TRUE(watchers_running().empty());
  EXPECT_TRUE(root_.entries().empty());  // no @pool, no @s socket dirs
  EXPECT_EQ(read_file("/proc/self/mountinfo").find(root_.path()), std::string::npos);
  EXPECT_EQ(pool({"status"}).out.find("idle"), std::string::npos);
}

// Whether `pid` waits for a flock (a "->" line of /proc/locks).
bool waits_for_flock(pid_t pid) {
  std::istringstream in(read_file("/proc/locks"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string n, arrow, kind, mode, rw;
    pid_t p = 0;
    f >> n >> arrow >> kind >> mode >> rw >> p;
    if (arrow == "->" && kind == "FLOCK" && p == pid) return true;
  }
  return false;
}

// A drain ends every unit no container holds, including the one a refill
// asked for before it would boot. The refill a claim started is held at the
// fill lock (by this test), stopped there, and let go once the drain that
// ran after it was asked for returned: it must boot nothing.
TEST_F(PoolTest, ARefillAskedForBeforeADrainBootsNothingAfterIt) {
  std::ofstream(config_) << "[vm]\nmemory_mib = 256\n[pool]\nsize = 1\n";
  ASSERT_EQ(pool({"fill"}).status, 0);
  ASSERT_EQ(units_in("idle"), 1);
  UniqueFd lock(open((root_.path() + "/@pool/fill.lock").c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(lock);
  ASSERT_EQ(flock(lock.get(), LOCK_EX), 0);
  Bundle bundle({.args = {"sleep", "600"}});
  // To files: the container's pid (the relay) holds create's stdout.
  std::string err = files_.path() + "/create.err";
  int st = testing::run_to_files(
      testing::runvm_argv(root_.path(),
                          {"--config", config_, "create", "--bundle", bundle.dir(), "held"}),
      files_.path() + "/create.out", err);
  ASSERT_EQ(st, 0) << read_file(err);
  EXPECT_NE(testing::pool_unit_of(root_.path(), "held"), "");
  // The claimed unit's watcher started the refill: it waits for our lock.
  pid_t refill = 0;
  for (int i = 0; i < 6000 && refill == 0; ++i) {
    for (pid_t p : fills_running())
      if (waits_for_flock(p)) refill = p;
    if (refill == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(refill, 0) << "no refill waits for the fill lock";
  ASSERT_EQ(kill(refill, SIGSTOP), 0);
  // Stopped for real before the lock goes: a stop signal is handled when
  // the process runs next, and woken by the unlock it would take the lock
  // first. Stopped, its flock was interrupted (to restart at SIGCONT).
  bool stopped = false;
  for (int i = 0; i < 6000 && !stopped; ++i) {
    std::string stat = read_file("/proc/" + std::to_string(refill) + "/stat");
    size_t paren = stat.rfind(')');
    stopped = paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'T';
    if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(stopped);
  lock.reset();
  // Stopped, the refill cannot take the lock the drain takes and leaves.
  EXPECT_EQ(pool({"drain"}).out, "drained 0\n");  // the claimed unit is the container's
  ASSERT_EQ(kill(refill, SIGCONT), 0);
  wait_for_fills();
  EXPECT_EQ(units_in("idle") + units_in("booting") + units_in("starting"), 0)
      << pool({"status"}).out;
  EXPECT_EQ(cli({"delete", "--force", "held"}).status, 0);
  EXPECT_EQ(claimed_after_ending(), 0);  // delete returns before the unit's VM is gone
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
}

// A unit taken by a create that was killed before it made its container's
// state (its owner names no container) would run until the host's reboot:
// once taken long enough ago (here: its owner file dated back), a drain
// (and any fill) ends it.
TEST_F(PoolTest, AnAbandonedClaimIsDrained) {
  std::ofstream(config_) << "[vm]\nmemory_mib = 256\n[pool]\nsize = 1\n";
  ASSERT_EQ(pool({"fill"}).status, 0);
  std::filesystem::path unit;
  for (const auto& cls : std::filesystem::directory_iterator(root_.path() + "/@pool"))
    if (cls.is_directory())
      for (const auto& u : std::filesystem::directory_iterator(cls.path())) unit = u.path();
  ASSERT_FALSE(unit.empty());
  std::string owner = (unit / "owner").string();
  std::ofstream(owner) << "ghost";
  // Its watcher saw the take and refilled (it exits once the refill runs):
  // the drain ends that new unit, not the one just taken (its create may be
  // on its way).
  for (int i = 0; i < 6000 && !watchers_running().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(std::filesystem::exists(unit / "refill"));
  wait_for_fills();
  EXPECT_EQ(pool({"drain"}).out, "drained 1\n");
  EXPECT_EQ(units_in("claimed"), 1);
  timespec old[2] = {{time(nullptr) - 120, 0}, {time(nullptr) - 120, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, owner.c_str(), old, 0), 0);
  EXPECT_EQ(pool({"drain"}).out, "drained 1\n");
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
  EXPECT_TRUE(root_.entries().empty());
}

// The pids whose parent is `parent` (zombies included).
std::set<pid_t> children_of(pid_t parent) {
  std::set<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    pid_t pid = atoi(e.path().filename().c_str());
    if (pid <= 0) continue;
    std::string stat = read_file(e.path().string() + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream f(stat.substr(paren + 2));
    char state;
    pid_t ppid = 0;
    f >> state >> ppid;
    if (ppid == parent) out.insert(pid);
  }
  return out;
}

// conmon is a subreaper that waits for every process it adopted: a refill
// started by the claiming create (and the unit it boots) would keep it
// until that unit ended. The claim's caller here is a subreaper too; once
// the refill booted a new idle unit, the only process it adopted is the
// container's pid (the relay). The refill's unit is outside the claimed
// container's cgroup.
TEST_F(PoolTest, RefillIsNoDescendantOfTheClaimerNorInItsCgroup) {
  std::ofstream(config_) << "[vm]\nmemory_mib = 256\n[pool]\nsize = 1\n";
  ASSERT_EQ(pool({"fill"}).status, 0);
  ASSERT_EQ(units_in("idle"), 1);
  ASSERT_EQ(watchers_running().size(), 1u);
  std::string cgroup = "/runvm-pool-test-" + std::to_string(getpid());
  Bundle bundle(
      {.args = {"sleep", "600"}, .config_json = R"("linux":{"cgroupsPath":")" + cgroup + R"("})"});
  std::string pid_file = files_.path() + "/pid", children = files_.path() + "/children";
  auto argv = testing::runvm_argv(root_.path(), {"--config", config_, "create", "--bundle",
                                                 bundle.dir(), "--pid-file", pid_file, "sub"});
  std::vector<std::string> status_argv =
      testing::runvm_argv(root_.path(), {"--config", config_, "pool", "status"});
  pid_t reaper = fork();
  ASSERT_GE(reaper, 0);
  if (reaper == 0) {
    // The subreaper: runs create, waits (≤ 2 min under TCG) for the
    // refilled unit to be idle, then lists the processes it adopted.
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) _exit(10);
    int st =
        testing::run_to_files(argv, files_.path() + "/create.out", files_.path() + "/create.err");
    if (st != 0) _exit(11);
    bool idle = false;
    for (int i = 0; i < 1200 && !idle; ++i) {
      auto r = run_command(status_argv);
      idle = r.out.find(" idle ") != std::string::npos;
      if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    {
      std::ofstream out(children);  // closed (flushed) before _exit
      for (pid_t p : children_of(getpid())) out << p << "\n";
    }
    _exit(idle ? 0 : 12);
  }
  int st = -1;
  ASSERT_EQ(waitpid(reaper, &st, 0), reaper);
  ASSERT_TRUE(WIFEXITED(st)) << st;
  ASSERT_EQ(WEXITSTATUS(st), 0) << read_file(files_.path() + "/create.err") << pool({"status"}).out;
  EXPECT_NE(testing::pool_unit_of(root_.path(), "sub"), "");
  pid_t relay = 0;
  std::ifstream(pid_file) >> relay;
  EXPECT_GT(relay, 0);
  EXPECT_EQ(pids_in(children), std::set<pid_t>{relay});
  // The refilled unit: its shim and watcher left the claimed container's
  // cgroup (and the caller's) for /runvm-pool.
  wait_for_fills();
  EXPECT_EQ(units_in("idle"), 1) << pool({"status"}).out;
  std::vector<pid_t> unit_procs = watchers_running();
  EXPECT_EQ(unit_procs.size(), 1u);
  for (const auto& cls : std::filesystem::directory_iterator(root_.path() + "/@pool")) {
    if (!cls.is_directory()) continue;  // fill.lock
    for (const auto& unit : std::filesystem::directory_iterator(cls.path())) {
      if (std::filesystem::exists(unit.path() / "owner")) continue;
      pid_t shim = 0;
      std::ifstream(unit.path() / "unit") >> shim;
      unit_procs.push_back(shim);
    }
  }
  EXPECT_EQ(unit_procs.size(), 2u);
  std::string relay_cgroups = read_file("/proc/" + std::to_string(relay) + "/cgroup");
  EXPECT_NE(relay_cgroups.find(cgroup), std::string::npos) << relay_cgroups;
  for (pid_t p : unit_procs) {
    std::string cgroups = read_file("/proc/" + std::to_string(p) + "/cgroup");
    EXPECT_EQ(cgroups.find(cgroup), std::string::npos) << cgroups;
    EXPECT_NE(cgroups.find(":/runvm-pool\n"), std::string::npos) << cgroups;
  }
  EXPECT_EQ(cli({"delete", "--force", "sub"}).status, 0);
  EXPECT_EQ(claimed_after_ending(), 0) << pool({"status"}).out;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A cold create with the pool empty starts a fill, never into its caller's
// process tree when that caller is a subreaper: conmon would adopt the fill
// and every unit it boots, and wait for them all. There it runs under
// systemd when systemd is init, or not at all. From a caller that is no
// subreaper it runs, and its unit has a watcher (its refills run outside
// any claimer too).
TEST_F(PoolTest, AColdCreatesFillIsNeverASubreapersAndItsUnitsHaveWatchers) {
  std::ofstream(config_) << "[vm]\nmemory_mib = 256\n[pool]\nsize = 1\n";
  Bundle bundle({.args = {"sleep", "600"}});
  std::string pid_file = files_.path() + "/pid", children = files_.path() + "/children";
  auto argv = testing::runvm_argv(root_.path(), {"--config", config_, "create", "--bundle",
                                                 bundle.dir(), "--pid-file", pid_file, "sub"});
  pid_t reaper = fork();
  ASSERT_GE(reaper, 0);
  if (reaper == 0) {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) _exit(10);
    int st =
        testing::run_to_files(argv, files_.path() + "/create.out", files_.path() + "/create.err");
    if (st != 0) _exit(11);
    // Zombies it adopted are reaped, as conmon reaps them on SIGCHLD.
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    {
      std::ofstream out(children);
      for (pid_t p : children_of(getpid())) out << p << "\n";
    }
    _exit(0);
  }
  int st = -1;
  ASSERT_EQ(waitpid(reaper, &st, 0), reaper);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
      << st << read_file(files_.path() + "/create.err");
  EXPECT_EQ(testing::pool_unit_of(root_.path(), "sub"), "");  // cold: the pool was empty
  pid_t shim = 0;
  std::ifstream(pid_file) >> shim;
  EXPECT_GT(shim, 0);
  EXPECT_EQ(pids_in(children), std::set<pid_t>{shim});
  wait_for_fills();
  if (!std::filesystem::exists("/run/systemd/system")) {
    EXPECT_EQ(units_in("idle") + units_in("booting"), 0) << pool({"status"}).out;
  }
  EXPECT_EQ(cli({"delete", "--force", "sub"}).status, 0);
  pool({"drain"});

  // No subreaper: the fill runs, and its unit has a watcher.
  int cold = testing::run_to_files(
      testing::runvm_argv(root_.path(),
                          {"--config", config_, "create", "--bundle", bundle.dir(), "plain"}),
      files_.path() + "/plain.out", files_.path() + "/plain.err");
  ASSERT_EQ(cold, 0) << read_file(files_.path() + "/plain.err");
  EXPECT_EQ(testing::pool_unit_of(root_.path(), "plain"), "");
  wait_for_fills();
  EXPECT_EQ(units_in("idle"), 1) << pool({"status"}).out;
  EXPECT_EQ(watchers_running().size(), 1u);
  EXPECT_EQ(cli({"delete", "--force", "plain"}).status, 0);
}

// A claimed container is its unit's one member: `update` changes its guest
// cgroup and its host cgroup's CPU limits, never the VM's RAM (nor the host
// memory limit that covers it) and refuses a cpuset clearly; `pause`
// freezes it; `ps` lists its relay and its VM's shim and QEMU.
TEST_F(PoolTest, ClaimedContainerUpdatesPausesAndListsItsVm) {
  std::string path = "/runvm-pool-upd-" + std::to_string(getpid());
  Bundle bundle(
      {.args = {"sleep", "600"},
       .config_json = R"("linux":{"cgroupsPath":")" + path + R"("})" +
                      R"(,"mounts":[{"destination":"/cg","type":"cgroup","source":"cgroup"}])"});
  auto layout = cgroup::detect_layout();
  ASSERT_TRUE(layout.ok());
  auto cg = cgroup::Cgroup::resolve(*layout, path);
  ASSERT_TRUE(cg.ok());
  std::string unit;
  pid_t shim = 0;
  ASSERT_NO_FATAL_FAILURE(claim_and_start(bundle, "u", unit, shim));

  // ps: the relay (the container's pid), the unit's shim and its QEMU.
  auto ps = cli({"ps", "--format", "json", "u"});
  EXPECT_EQ(ps.status, 0) << ps.err;
  std::string state = cli({"state", "u"}).out;
  size_t at = state.find("\"pid\": ");
  ASSERT_NE(at, std::string::npos) << state;
  std::string relay = std::to_string(atoi(state.c_str() + at + 7));
  EXPECT_NE(ps.out.find("[" + relay + ","), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("," + std::to_string(shim)), std::string::npos) << ps.out;
  EXPECT_EQ(std::count(ps.out.begin(), ps.out.end(), ','), 2) << ps.out;
  // list: the container, and nothing of the pool's own dirs (@pool, @s),
  // which are no containers and no broken entries either.
  auto list = cli({"list", "-q"});
  EXPECT_EQ(list.status, 0) << list.err;
  EXPECT_EQ(list.out, "u\n");
  EXPECT_EQ(list.err, "");

  // CPU: the guest's cgroup and the host's.
  auto upd = cli({"update", "--cpu-share", "512", "u"});
  EXPECT_EQ(upd.status, 0) << upd.err;
  std::string cpu_dir = cg->dir_of("cpu");
  if (const auto* cpu = layout->with("cpu"); cpu && cpu->version == 1) {
    EXPECT_EQ(trimmed(read_file(cpu_dir + "/cpu.shares")), "512");
  } else if (!cpu_dir.empty()) {
    EXPECT_EQ(trimmed(read_file(cpu_dir + "/cpu.weight")), "20");
  }
  auto weight = cli({"exec", "u", "cat", "/cg/cpu.weight"});
  EXPECT_EQ(trimmed(weight.out), "20") << weight.status << weight.err;

  // Memory: the guest cgroup only; the VM keeps its RAM and the host its limit.
  std::string mem_dir = cg->dir_of("memory");
  std::string host_limit_file =
      mem_dir + (layout->with("memory")->version == 1 ? "/memory.limit_in_bytes" : "/memory.max");
  std::string host_before = read_file(host_limit_file);
  upd = cli({"update", "--memory", "100M", "u"});
  EXPECT_EQ(upd.status, 0) << upd.err;
  EXPECT_EQ(trimmed(cli({"exec", "u", "cat", "/cg/memory.max"}).out), std::to_string(100 << 20));
  EXPECT_EQ(read_file(host_limit_file), host_before);
  std::string meminfo = cli({"exec", "u", "cat", "/proc/meminfo"}).out;
  long total_kib = atol(meminfo.c_str() + meminfo.find_first_of("0123456789"));
  EXPECT_GT(total_kib, 200 << 10) << meminfo;  // still the 256 MiB VM's

  // cpuset: refused before anything changes, saying why.
  upd = cli({"update", "--cpuset-cpus", "0", "u"});
  EXPECT_NE(upd.status, 0);
  EXPECT_NE(upd.err.find("cpu.cpus: cannot change for a container of the warm pool"),
            std::string::npos)
      << upd.err;

  ASSERT_EQ(cli({"pause", "u"}).status, 0);
  EXPECT_NE(cli({"state", "u"}).out.find("\"status\": \"paused\""), std::string::npos);
  ASSERT_EQ(cli({"resume", "u"}).status, 0);
  EXPECT_NE(cli({"state", "u"}).out.find("\"status\": \"running\""), std::string::npos);

  EXPECT_EQ(cli({"delete", "--force", "u"}).status, 0);
  for (const auto& d : cg->dirs()) EXPECT_FALSE(std::filesystem::exists(d.path)) << d.path;
  // Its unit ends after delete returned (with the container's CPU weight,
  // released_cgroup.h): a drain before that keeps the pool dir.
  EXPECT_EQ(claimed_after_ending(), 0) << pool({"status"}).out;
}

// A released unit (its VM ends after its container's delete returned)
// keeps the container's limits until it ends: its shim and QEMU move to a
// cgroup of their own with them, not to the unlimited pool cgroup. A
// drain once the unit ended removes that cgroup.
TEST_F(PoolTest, AReleasedUnitKeepsItsContainersLimitsUntilItEnds) {
  // Under a parent pinned to CPU 0: a v1 cgroup is made with its parent's
  // cpuset, so the container's is "0" where /runvm-released's is the root's.
  std::string parent = "/runvm-pool-rel-" + std::to_string(getpid());
  std::string path = parent + "/ctr";
  Bundle bundle({.args = {"sleep", "600"},
                 .config_json = R"("linux":{"cgroupsPath":")" + path +
                                R"(","resources":{"cpu":{"quota":30000,"period":100000}}})"});
  auto layout = cgroup::detect_layout();
  ASSERT_TRUE(layout.ok());
  auto pinned = cgroup::Cgroup::resolve(*layout, parent);
  ASSERT_TRUE(pinned.ok());
  ASSERT_TRUE(pinned->create().ok());
  struct Remove {
    const cgroup::Cgroup& cg;
    ~Remove() { (void)cg.remove(); }
  } remove_parent{*pinned};
  const auto* cpuset = layout->with("cpuset");
  const bool pin = cpuset && cpuset->version == 1 &&
                   trimmed(read_file(cpuset->mountpoint + "/cpuset.cpus")) != "0";
  if (pin) std::ofstream(pinned->dir_of("cpuset") + "/cpuset.cpus") << "0";
  auto cg = cgroup::Cgroup::resolve(*layout, path);
  ASSERT_TRUE(cg.ok());
  std::string unit;
  pid_t shim = 0;
  ASSERT_NO_FATAL_FAILURE(claim_and_start(bundle, "r", unit, shim));
  UniqueFd shim_fd(static_cast<int>(syscall(SYS_pidfd_open, shim, 0)));
  ASSERT_TRUE(shim_fd);
  bool memory_v1 = layout->with("memory")->version == 1;
  std::string limit_file = memory_v1 ? "/memory.limit_in_bytes" : "/memory.max";
  std::string limit = read_file(cg->dir_of("memory") + limit_file);
  ASSERT_FALSE(limit.empty());

  ASSERT_EQ(cli({"delete", "--force", "r"}).status, 0);
  auto released =
      cgroup::Cgroup::resolve(*layout, "/runvm-released/" + unit.substr(unit.find('/') + 1));
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(read_file(released->dir_of("memory") + limit_file), limit);
  std::string cpu_dir = released->dir_of("cpu");
  if (layout->with("cpu")->version == 1)
    EXPECT_EQ(trimmed(read_file(cpu_dir + "/cpu.cfs_quota_us")), "30000");
  else
    EXPECT_EQ(trimmed(read_file(cpu_dir + "/cpu.max")), "30000 100000");
  if (pin) {
    EXPECT_EQ(trimmed(read_file(released->dir_of("cpuset") + "/cpuset.cpus")), "0");
  }
  // The unit's shim ends on its own (QEMU before it), then its cgroup goes.
  pollfd p{shim_fd.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 60000), 1);
  EXPECT_EQ(claimed_after_ending(), 0) << pool({"status"}).out;
  EXPECT_EQ(pool({"drain"}).status, 0);
  for (const auto& d : released->dirs()) EXPECT_FALSE(std::filesystem::exists(d.path)) << d.path;
}

// A claimed unit stopped while its container still runs (its shim ended
// by a signal: `pool drain`, runvm-pool(8)): the container was never
// reaped, so the agent never synced after it, and what it wrote through a
// shared mapping is in the guest's page cache alone. The unit's VM stops
// with a guest sync then (PROTOCOL.md, rule 5), not killed at once.
TEST_F(PoolTest, AUnitStoppedWhileItsContainerRunsSyncsTheGuestFirst) {
  std::ofstream(config_) << "[vm]\nmemory_mib = 256\n[pool]\nsize = 1\n";
  ASSERT_EQ(pool({"fill"}).status, 0);
  pid_t shim = testing::only_unit_shim(root_.path());
  ASSERT_GT(shim, 0);
  testing::TempDir data;
  BundleSpec spec;
  spec.stdio_probe = true;
  spec.args = {"stdio-probe", "mmap-write", "/data/f", "through-the-mapping"};
  spec.config_json = R"("mounts":[{"destination":"/data","type":"bind","source":")" + data.path() +
                     R"(","options":["rbind","rw"]}])";
  Bundle bundle(spec);
  std::string out = files_.path() + "/mm.out", cmd;
  for (const auto& a : testing::runvm_argv(
           root_.path(), {"--config", config_, "create", "--bundle", bundle.dir(), "mm"}))
    cmd += a + " ";
  ASSERT_EQ(system((cmd + "</dev/null >" + out + " 2>" + files_.path() + "/mm.err").c_str()), 0)
      << read_file(files_.path() + "/mm.err");
  ASSERT_FALSE(testing::pool_unit_of(root_.path(), "mm").empty()) << "cold start";
  ASSERT_EQ(cli({"start", "mm"}).status, 0);
  for (int i = 0; i < 3000 && read_file(out) != "mapped\n"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(read_file(out), "mapped\n") << read_file(files_.path() + "/mm.err");
  ASSERT_EQ(kill(shim, SIGTERM), 0);
  for (int i = 0; i < 3000 && kill(shim, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(kill(shim, 0), 0) << "the unit's shim did not end";
  EXPECT_EQ(read_file(data.path() + "/f"), "through-the-mapping");
  EXPECT_EQ(cli({"delete", "--force", "mm"}).status, 0);
}

}  // namespace
}  // namespace runvm
