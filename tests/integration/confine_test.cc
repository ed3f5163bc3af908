// The shim confined (issue 15, docs/security.md "shim"): every thread of a
// running shim has its seccomp filter (Seccomp: 2), no_new_privs and its
// role's documented capabilities; a forbidden syscall from the device thread
// (which parses guest data) kills the shim with SIGSYS, and only it: QEMU
// goes with it, `state` says stopped, `delete` leaves nothing, and another
// container on the same root still runs.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "spec/base/json.h"
#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::run_command;
using testing::TempDir;

// The documented sets (docs/security.md "shim"), as /proc shows CapEff.
constexpr const char* kControlCaps = "0000000000800020";  // CAP_KILL, CAP_SYS_NICE
// CAP_CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID, SETGID, SETUID, MKNOD
constexpr const char* kDeviceCaps = "00000000080000df";
constexpr const char* kStdioCaps = "0000000000000000";
// A pod sandbox's main thread also binds members: + CAP_SYS_ADMIN,
// CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH.
constexpr const char* kPodControlCaps = "0000000000a00026";

bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  return std::getline(stat, line) && line.find(") Z") == std::string::npos;
}

std::map<std::string, std::string> task_status(const std::filesystem::path& task) {
  std::map<std::string, std::string> out;
  std::ifstream in(task / "status");
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    out[line.substr(0, colon)] = v;
  }
  return out;
}

class ConfineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_VM_ASSETS();
#ifndef RUNVM_TEST_HOOKS
    GTEST_SKIP() << "runvm-shim built without RUNVM_TEST_HOOKS";
#endif
    // The shims (and their QEMUs) become our children once runvm exits:
    // the victim's wait status is then ours to read.
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    spec_ = {.args = {"sleep", "600"}};
    bystander_ = std::make_unique<Bundle>(spec_);
    victim_ = std::make_unique<Bundle>(spec_);
    std::string cmd;
    for (const auto& a : runvm({"run", "-d", "-b", bystander_->dir(), "bystander"})) cmd += a + " ";
    ASSERT_EQ(system((cmd + "</dev/null >/dev/null 2>&1").c_str()), 0);
    entries_before_ = root_.entries();
    fifo_ = dir_ / "device-syscall";
    ASSERT_EQ(mkfifo(fifo_.c_str(), 0600), 0);
    start_victim();
  }

  // The victim's stdout and stderr are a pipe: its shim relays them on
  // StdioPump threads, so every role is present.
  void start_victim() {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    out_.reset(p[0]);
    auto argv = runvm({"run", "-d", "-b", victim_->dir(), "victim"});
    pid_t child = fork();
    if (child == 0) {
      int null = open("/dev/null", O_RDONLY);
      dup2(null, 0);
      dup2(p[1], 1);
      dup2(p[1], 2);
      setenv("RUNVM_TEST_DEVICE_SYSCALL_FIFO", fifo_.c_str(), 1);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(p[1]);
    int st = 0;
    ASSERT_EQ(waitpid(child, &st, 0), child);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
    shim_ = pid_of("victim");
    ASSERT_GT(shim_, 0);
    // Both QEMUs name the same root: the victim's is its shim's child.
    qemu_ = child_of(shim_);
    ASSERT_GT(qemu_, 0);
  }

  void TearDown() override {
    for (const char* id : {"victim", "bystander"})
      (void)run_command(runvm({"delete", "--force", id}));
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  std::vector<std::string> runvm(const std::vector<std::string>& args) const {
    return testing::runvm_argv(root_.path(), args);
  }

  pid_t pid_of(const std::string& id) {
    auto state = json::Document::parse(run_command(runvm({"state", id})).out);
    if (!state.ok()) return -1;
    return static_cast<pid_t>(*(*state->root().at("pid")).as_int());
  }

  std::string status(const std::string& id) {
    auto doc = json::Document::parse(run_command(runvm({"state", id})).out);
    if (!doc.ok()) return "";
    auto s = doc->root().at("status");
    return s.ok() ? s->as_string().value_or("") : "";
  }

  static pid_t child_of(pid_t parent) {
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      pid_t pid = atoi(e.path().filename().c_str());
      if (pid <= 0) continue;
      auto st = task_status(e.path());
      if (st["PPid"] == std::to_string(parent)) return pid;
    }
    return -1;
  }

  TempDir root_, dir_;
  testing::BundleSpec spec_;
  std::unique_ptr<Bundle> bystander_, victim_;
  std::vector<std::string> entries_before_;
  std::string fifo_;
  UniqueFd out_;
  pid_t shim_ = -1, qemu_ = -1;
};

TEST_F(ConfineTest, EveryThreadIsConfinedAndADeviceThreadSyscallKillsOnlyTheShim) {
  ASSERT_EQ(status("victim"), "running");
  // Every thread: filtered, no_new_privs, its role's capabilities.
  std::map<std::string, int> roles;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(shim_) + "/task")) {
    auto st = task_status(t.path());
    bool main = t.path().filename() == std::to_string(shim_);
    std::string role = main ? "control" : st["Name"];
    ++roles[role];
    EXPECT_EQ(st["Seccomp"], "2") << role;
    EXPECT_EQ(st["NoNewPrivs"], "1") << role;
    const char* caps = role == "control"        ? kControlCaps
                       : role == "runvm-device" ? kDeviceCaps
                       : role == "runvm-stdio"  ? kStdioCaps
                                                : "unknown thread";
    EXPECT_EQ(st["CapEff"], caps) << role;
    EXPECT_EQ(st["CapPrm"], caps) << role;
  }
  EXPECT_EQ(roles["control"], 1);
  // The device thread, and a helper that may still run (a container root's
  // xattr walk, fuse::XattrScan: made during set-up, it confined itself to
  // the device role first).
  EXPECT_GE(roles["runvm-device"], 1);
  EXPECT_GE(roles["runvm-stdio"], 1);  // stdout and stderr relays
  EXPECT_EQ(roles.size(), 3u);

  // The device thread calls reboot(2): its filter kills the whole shim.
  {
    UniqueFd w(open(fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    ASSERT_TRUE(w.valid());
    ASSERT_EQ(write(w.get(), "x", 1), 1);
  }
  int st = 0;
  pid_t reaped = 0;
  for (int i = 0; i < 200 && (reaped = waitpid(shim_, &st, WNOHANG)) == 0; ++i) usleep(50 * 1000);
  ASSERT_EQ(reaped, shim_) << "the shim survived a forbidden syscall";
  EXPECT_TRUE(WIFSIGNALED(st)) << st;
  EXPECT_EQ(WTERMSIG(st), SIGSYS);
  // QEMU dies with its parent (PR_SET_PDEATHSIG).
  for (int i = 0; i < 100 && alive(qemu_); ++i) usleep(50 * 1000);
  EXPECT_FALSE(alive(qemu_));
  (void)waitpid(qemu_, nullptr, WNOHANG);
  EXPECT_EQ(status("victim"), "stopped");

  auto del = run_command(runvm({"delete", "victim"}));
  EXPECT_TRUE(WIFEXITED(del.status) && WEXITSTATUS(del.status) == 0) << del.err;
  EXPECT_EQ(del.err, "");
  EXPECT_EQ(root_.entries(), entries_before_);  // the victim's state and sockets are gone

  // The other container on the same root is untouched.
  EXPECT_EQ(status("bystander"), "running");
  auto exec = run_command(runvm({"exec", "bystander", "true"}));
  EXPECT_TRUE(WIFEXITED(exec.status) && WEXITSTATUS(exec.status) == 0) << exec.err;
  // Files the guest creates in a row in its root are served under the
  // device filter.
  auto made = run_command(runvm({"exec", "bystander", "sh", "-c",
                                 "for i in 1 2 3 4 5 6 7 8; do echo $i > /made$i; done; "
                                 "sleep 1; for i in 9 10 11; do echo $i > /made$i; done; "
                                 "cat /made11"}));
  EXPECT_TRUE(WIFEXITED(made.status) && WEXITSTATUS(made.status) == 0) << made.err;
  EXPECT_EQ(made.out, "11\n");
  EXPECT_EQ(status("bystander"), "running");
}

TEST(ConfinePodTest, ASandboxsMainThreadKeepsWhatBindingMembersTakes) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir root;
  Bundle sandbox(
      {.args = {"sleep", "600"},
       .config_json = R"("annotations":{"io.kubernetes.cri.container-type":"sandbox"})"});
  auto runvm = [&](const std::vector<std::string>& args) {
    return testing::runvm_argv(root.path(), args);
  };
  std::string cmd;
  for (const auto& a : runvm({"run", "-d", "-b", sandbox.dir(), "sb"})) cmd += a + " ";
  ASSERT_EQ(system((cmd + "</dev/null >/dev/null 2>&1").c_str()), 0);
  auto state = json::Document::parse(run_command(runvm({"state", "sb"})).out);
  ASSERT_TRUE(state.ok());
  pid_t shim = static_cast<pid_t>(*(*state->root().at("pid")).as_int());
  int threads = 0;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(shim) + "/task")) {
    auto st = task_status(t.path());
    ++threads;
    EXPECT_EQ(st["Seccomp"], "2") << st["Name"];
    if (t.path().filename() == std::to_string(shim)) {
      EXPECT_EQ(st["CapEff"], kPodControlCaps);
    } else if (st["Name"] == "runvm-device") {
      EXPECT_EQ(st["CapEff"], kDeviceCaps);
    }
  }
  EXPECT_GE(threads, 2);
  auto del = run_command(runvm({"delete", "--force", "sb"}));
  EXPECT_TRUE(WIFEXITED(del.status) && WEXITSTATUS(del.status) == 0) << del.err;
}

}  // namespace
}  // namespace runvm
