// Pods (issue 12) through the real runvm binary: a sandbox container and
// members created by `runvm create` with containerd CRI annotations run in
// ONE VM (one QEMU; the same guest kernel release and boot id), a member's exit
// status arrives through its relay process, and deleting leaves nothing.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::BundleSpec;
using testing::read_file;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

constexpr char kProc[] = R"("mounts":[{"destination":"/proc","type":"proc","source":"proc"}])";

// `more`: further annotations, e.g. R"("k":"v")".
std::string annotations(const std::string& type, const std::string& sandbox,
                        const std::string& more = "") {
  std::string a = R"("annotations":{"io.kubernetes.cri.container-type":")" + type + "\"";
  if (!sandbox.empty()) a += R"(,"io.kubernetes.cri.sandbox-id":")" + sandbox + "\"";
  if (!more.empty()) a += "," + more;
  return a + "}";
}

class PodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_VM_ASSETS();
    // Members' relays outlive `runvm create`: adopt them to read their status.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  void TearDown() override {
    for (const char* id : {"m1", "m2", "sb"}) cli({"delete", "--force", id});
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  std::vector<std::string> runvm(std::vector<std::string> args) {
    auto argv = testing::runvm_argv(root_.path(), args);
    return argv;
  }
  testing::CommandResult cli(std::vector<std::string> args) { return run_command(runvm(args)); }
  // create/start leave a process behind that keeps the stdio it inherits: files.
  int detached(const std::string& cmd, const std::string& out) {
    std::string full;
    for (auto& a : runvm({})) full += a + " ";
    return system((full + cmd + " </dev/null >" + out + " 2>>" + io_.path() + "/err").c_str());
  }
  // The pod sandbox "sb" (`sleep 600`; `extra_config`: more config.json
  // members before its annotations), created and not started; its bundle
  // lives as long as the test.
  void create_sandbox(const std::string& extra_config = "", const std::string& more = "") {
    BundleSpec spec;
    spec.args = {"sleep", "600"};
    spec.config_json = extra_config + annotations("sandbox", "", more);
    sandbox_ = std::make_unique<Bundle>(spec);
    ASSERT_EQ(detached("create --bundle " + sandbox_->dir() + " sb", io_.path() + "/sb.out"), 0)
        << read_file(io_.path() + "/err");
  }
  static long read_pid(const std::string& file) {
    long pid = 0;
    std::ifstream(file) >> pid;
    return pid;
  }
  std::string exec_out(const std::string& id, std::vector<std::string> args) {
    std::vector<std::string> a = {"exec", id};
    a.insert(a.end(), args.begin(), args.end());
    auto r = cli(a);
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  }
  // QEMU processes themselves (the shim's command line names QEMU too).
  std::vector<pid_t> qemus_of_root() {
    std::vector<pid_t> out;
    for (pid_t p : testing::qemu_processes_mentioning(root_.path()))
      if (read_file("/proc/" + std::to_string(p) + "/comm").rfind("qemu-system", 0) == 0)
        out.push_back(p);
    return out;
  }
  static std::string describe(const std::vector<pid_t>& pids) {
    std::string s;
    for (pid_t p : pids) {
      std::string cmd = read_file("/proc/" + std::to_string(p) + "/cmdline");
      for (char& c : cmd)
        if (c == '\0') c = ' ';
      s += std::to_string(p) + " (parent " +
           read_file("/proc/" + std::to_string(p) + "/stat").substr(0, 60) +
           "): " + cmd.substr(0, 300) + "\n";
    }
    return s;
  }
  bool mounted_under_root() {
    return read_file("/proc/self/mountinfo").find(root_.path()) != std::string::npos;
  }
  TempDir root_, io_;
  std::unique_ptr<Bundle> sandbox_;
};

TEST_F(PodTest, MembersRunInTheSandboxVmAndReportTheirStatus) {
  create_sandbox(std::string(kProc) + ",");
  if (HasFatalFailure()) return;
  ASSERT_EQ(cli({"start", "sb"}).status, 0);
  std::string kernel = exec_out("sb", {"cat", "/proc/sys/kernel/osrelease"});
  std::string boot_id = exec_out("sb", {"cat", "/proc/sys/kernel/random/boot_id"});
  ASSERT_FALSE(kernel.empty());
  ASSERT_EQ(boot_id.size(), 37u) << boot_id;
  auto qemus = qemus_of_root();
  ASSERT_EQ(qemus.size(), 1u) << describe(qemus);

  // m1: its output and exit code 7, through its relay.
  BundleSpec m1_spec;
  m1_spec.args = {"sh", "-c",
                  "cat /proc/sys/kernel/osrelease /proc/sys/kernel/random/boot_id; exit 7"};
  m1_spec.config_json = std::string(kProc) + "," + annotations("container", "sb");
  Bundle m1(m1_spec);
  std::string m1_pid_file = io_.path() + "/m1.pid", m1_out = io_.path() + "/m1.out";
  ASSERT_EQ(detached("create --bundle " + m1.dir() + " --pid-file " + m1_pid_file + " m1", m1_out),
            0)
      << read_file(io_.path() + "/err");
  long relay = read_pid(m1_pid_file);
  ASSERT_GT(relay, 0);
  // No VM of its own: the relay is not a shim, and still one QEMU.
  EXPECT_EQ(qemus_of_root(), qemus);
  EXPECT_NE(read_file("/proc/" + std::to_string(relay) + "/cmdline").find("runvm"),
            std::string::npos);
  EXPECT_NE(cli({"state", "m1"}).out.find("\"created\""), std::string::npos);
  // Its rootfs is bound in the sandbox's share while it lives.
  EXPECT_TRUE(mounted_under_root());
  ASSERT_EQ(cli({"start", "m1"}).status, 0);
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(relay), &status, 0), relay);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status;
  EXPECT_EQ(read_file(m1_out), kernel + boot_id);
  EXPECT_NE(cli({"state", "m1"}).out.find("\"stopped\""), std::string::npos);

  // m2: killed by a signal, its relay dies of the same one.
  BundleSpec m2_spec;
  m2_spec.args = {"sleep", "600"};
  m2_spec.config_json = std::string(kProc) + "," + annotations("container", "sb");
  Bundle m2(m2_spec);
  std::string m2_pid_file = io_.path() + "/m2.pid";
  ASSERT_EQ(detached("create --bundle " + m2.dir() + " --pid-file " + m2_pid_file + " m2",
                     io_.path() + "/m2.out"),
            0)
      << read_file(io_.path() + "/err");
  ASSERT_EQ(cli({"start", "m2"}).status, 0);
  EXPECT_NE(cli({"state", "m2"}).out.find("\"running\""), std::string::npos);
  // exec reaches the member, in the same VM.
  EXPECT_EQ(exec_out("m2", {"cat", "/proc/sys/kernel/random/boot_id"}), boot_id);
  ASSERT_EQ(cli({"kill", "m2", "TERM"}).status, 0);
  long relay2 = read_pid(m2_pid_file);
  ASSERT_EQ(waitpid(static_cast<pid_t>(relay2), &status, 0), relay2);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  // The sandbox runs on.
  EXPECT_NE(cli({"state", "sb"}).out.find("\"running\""), std::string::npos);

  EXPECT_EQ(cli({"delete", "m1"}).status, 0);
  EXPECT_EQ(cli({"delete", "m2"}).status, 0);
  EXPECT_FALSE(mounted_under_root());
  EXPECT_EQ(cli({"delete", "--force", "sb"}).status, 0);
  EXPECT_TRUE(root_.entries().empty());
  for (int i = 0; i < 50 && !qemus_of_root().empty(); ++i) usleep(100 * 1000);
  EXPECT_TRUE(qemus_of_root().empty());
  EXPECT_FALSE(mounted_under_root());
}

// pause/resume of a member freeze its guest cgroup alone (as runc freezes
// one container's cgroup): its output stops while the sandbox's other
// member writes on, and resume lets it go on. Pausing the sandbox stops the
// whole VM; a member paused meanwhile (`podman pod pause` pauses them all,
// in any order) is answered at once and stays frozen once the VM runs again.
TEST_F(PodTest, PausingAMemberFreezesItAlone) {
  create_sandbox();
  if (HasFatalFailure()) return;
  ASSERT_EQ(cli({"start", "sb"}).status, 0);
  BundleSpec m_spec;
  m_spec.args = {"sh", "-c", "while :; do echo x; sleep 0.1; done"};
  m_spec.config_json = annotations("container", "sb");
  Bundle m(m_spec);
  std::map<std::string, long> relays;
  for (const char* id : {"m1", "m2"}) {
    std::string pid_file = io_.path() + "/" + id + ".pid";
    ASSERT_EQ(detached("create --bundle " + m.dir() + " --pid-file " + pid_file + " " + id,
                       io_.path() + "/" + id + ".out"),
              0)
        << read_file(io_.path() + "/err");
    relays[id] = read_pid(pid_file);
    ASSERT_EQ(cli({"start", id}).status, 0);
  }
  auto written = [&](const std::string& id) { return read_file(io_.path() + "/" + id + ".out"); };
  // Whether `id` writes more within 20 s (TCG is slow, a frozen one never does).
  auto advances = [&](const std::string& id) {
    size_t before = written(id).size();
    for (int i = 0; i < 200; ++i, usleep(100 * 1000))
      if (written(id).size() > before) return true;
    return false;
  };
  // Whether `id` writes nothing for 2 s, after what was on its way arrived.
  auto stands_still = [&](const std::string& id) {
    usleep(500 * 1000);
    size_t before = written(id).size();
    usleep(2000 * 1000);
    return written(id).size() == before;
  };
  auto status_of = [&](const std::string& id) {
    std::string out = cli({"state", id}).out;
    for (const char* s : {"created", "running", "paused", "stopped"})
      if (out.find("\"status\": \"" + std::string(s) + "\"") != std::string::npos) return s;
    return "?";
  };
  ASSERT_TRUE(advances("m1"));
  ASSERT_EQ(cli({"pause", "m1"}).status, 0);
  EXPECT_STREQ(status_of("m1"), "paused");
  EXPECT_TRUE(stands_still("m1"));
  EXPECT_TRUE(advances("m2"));
  EXPECT_STREQ(status_of("m2"), "running");
  EXPECT_STREQ(status_of("sb"), "running");
  auto exec = cli({"exec", "m1", "true"});
  EXPECT_EQ(exec.err, "runvm: exec m1: cannot exec in a paused container\n");
  EXPECT_EQ(WEXITSTATUS(cli({"pause", "m1"}).status), 1);  // runc: not running
  ASSERT_EQ(cli({"resume", "m1"}).status, 0);
  EXPECT_STREQ(status_of("m1"), "running");
  EXPECT_TRUE(advances("m1"));

  // The sandbox paused: the VM stops; m2 is paused meanwhile.
  ASSERT_EQ(cli({"pause", "sb"}).status, 0);
  EXPECT_STREQ(status_of("sb"), "paused");
  EXPECT_TRUE(stands_still("m1"));
  ASSERT_EQ(cli({"pause", "m2"}).status, 0);
  EXPECT_STREQ(status_of("m2"), "paused");
  ASSERT_EQ(cli({"resume", "sb"}).status, 0);
  EXPECT_TRUE(advances("m1"));
  EXPECT_TRUE(stands_still("m2"));
  EXPECT_STREQ(status_of("m2"), "paused");
  ASSERT_EQ(cli({"resume", "m2"}).status, 0);
  EXPECT_TRUE(advances("m2"));

  // A paused member still dies of SIGKILL (the cgroup v2 freezer lets it).
  ASSERT_EQ(cli({"pause", "m1"}).status, 0);
  ASSERT_EQ(cli({"kill", "m1", "KILL"}).status, 0);
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(relays["m1"]), &status, 0), relays["m1"]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_STREQ(status_of("m1"), "stopped");
  for (const char* id : {"m1", "m2", "sb"})
    EXPECT_EQ(cli({"delete", "--force", id}).status, 0) << id;
  EXPECT_TRUE(root_.entries().empty());
  EXPECT_FALSE(mounted_under_root());
}

// A member whose spec asks for a new PID namespace is PID 1 of its own in
// the guest, and its exec'd processes join it; one that names the
// sandbox's (Podman --share pid, CRI NamespaceMode POD) shares the
// sandbox's and is no PID 1.
TEST_F(PodTest, AMemberHasItsOwnPidNamespaceUnlessItSharesTheSandboxs) {
  create_sandbox(std::string(kProc) + ",");
  if (HasFatalFailure()) return;
  ASSERT_EQ(cli({"start", "sb"}).status, 0);
  std::string state = cli({"state", "sb"}).out;
  auto at = state.find("\"pid\": ");
  ASSERT_NE(at, std::string::npos) << state;
  long sb_pid = std::atol(state.c_str() + at + 7);
  ASSERT_GT(sb_pid, 0) << state;
  auto member = [&](const std::string& id, const std::string& pid_ns) {
    BundleSpec spec;
    spec.args = {"sh", "-c", "echo pid=$$; exec sleep 600"};
    spec.config_json = std::string(kProc) + R"(,"linux":{"namespaces":[)" + pid_ns +
                       R"(,{"type":"mount"}]},)" + annotations("container", "sb");
    auto b = std::make_unique<Bundle>(spec);
    EXPECT_EQ(detached("create --bundle " + b->dir() + " " + id, io_.path() + "/" + id + ".out"), 0)
        << read_file(io_.path() + "/err");
    EXPECT_EQ(cli({"start", id}).status, 0);
    return b;
  };
  auto own = member("m1", R"({"type":"pid"})");
  auto shared =
      member("m2", R"({"type":"pid","path":"/proc/)" + std::to_string(sb_pid) + R"(/ns/pid"})");
  auto first_line = [&](const std::string& id) {
    std::string out;
    for (int i = 0; i < 200 && out.find('\n') == std::string::npos; ++i, usleep(100 * 1000))
      out = read_file(io_.path() + "/" + id + ".out");
    return out.substr(0, out.find('\n'));
  };
  EXPECT_EQ(first_line("m1"), "pid=1");
  std::string m2 = first_line("m2");
  ASSERT_EQ(m2.rfind("pid=", 0), 0u) << m2;
  EXPECT_GT(std::atol(m2.c_str() + 4), 1) << m2;
  // An exec joins m1's namespace: its own pid is in m1's /proc, whose PID 1
  // is m1's sleep; m1 sees no process of the sandbox's.
  EXPECT_EQ(exec_out("m1", {"sh", "-c", "test -d /proc/$$ && cat /proc/1/comm"}), "sleep\n");
  // The three sleeps (sandbox, m1, m2) are all in the sandbox's namespace's
  // view, one in m1's.
  std::string count = "cat /proc/[0-9]*/comm | grep -c sleep";
  EXPECT_EQ(exec_out("m1", {"sh", "-c", count}), "1\n");
  EXPECT_EQ(exec_out("m2", {"sh", "-c", count}), "3\n");
  for (const char* id : {"m1", "m2", "sb"})
    EXPECT_EQ(cli({"delete", "--force", id}).status, 0) << id;
  EXPECT_TRUE(root_.entries().empty());
}

// The pod's VM is sized from containerd's sandbox annotations (the pod's
// summed limits), and a member's own limits bound its cgroup in the guest.
TEST_F(PodTest, TheSandboxAnnotationsSizeThePodAndMembersKeepTheirLimits) {
  create_sandbox("", R"("io.kubernetes.cri.sandbox-memory":"402653184",)"
                     R"("io.kubernetes.cri.sandbox-cpu-quota":"0",)"
                     R"("io.kubernetes.cri.sandbox-cpu-period":"100000")");
  if (HasFatalFailure()) return;
  ASSERT_EQ(cli({"start", "sb"}).status, 0);
  BundleSpec spec;
  spec.args = {"sh", "-c",
               "grep MemTotal /proc/meminfo; cat /cg/memory.max /cg/pids.max /cg/cpu.max"};
  spec.config_json = R"("mounts":[{"destination":"/cg","type":"cgroup","source":"cgroup"}],)"
                     R"("linux":{"resources":{"memory":{"limit":67108864},"pids":{"limit":50},)"
                     R"("cpu":{"quota":50000,"period":100000}}},)" +
                     annotations("container", "sb");
  Bundle m(spec);
  std::string pid_file = io_.path() + "/m1.pid", out = io_.path() + "/m1.out";
  ASSERT_EQ(detached("create --bundle " + m.dir() + " --pid-file " + pid_file + " m1", out), 0)
      << read_file(io_.path() + "/err");
  ASSERT_EQ(cli({"start", "m1"}).status, 0);
  long pid = read_pid(pid_file);
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(pid), &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << read_file(out);
  unsigned long long total_kib = 0, max = 0;
  unsigned pids = 0;
  char cpu[64] = {};
  ASSERT_EQ(sscanf(read_file(out).c_str(), "MemTotal: %llu kB\n%llu\n%u\n%63[^\n]", &total_kib,
                   &max, &pids, cpu),
            4)
      << read_file(out);
  // 384 MiB of guest RAM (less what the kernel keeps), not the 2 GiB default.
  EXPECT_GT(total_kib, 300ull * 1024) << read_file(out);
  EXPECT_LE(total_kib, 384ull * 1024) << read_file(out);
  EXPECT_EQ(max, 64ull << 20);
  EXPECT_EQ(pids, 50u);
  EXPECT_STREQ(cpu, "50000 100000");
  EXPECT_EQ(cli({"delete", "m1"}).status, 0);
  EXPECT_EQ(cli({"delete", "--force", "sb"}).status, 0);
  EXPECT_TRUE(root_.entries().empty());
}

// Kubernetes resizes one container of a pod in place
// (UpdateContainerResources): the member's cgroup in the guest follows, the
// pod's VM keeps its size, and the vCPU pinning stays the pod's.
TEST_F(PodTest, UpdatingAMemberChangesItsGuestCgroupOnly) {
  create_sandbox();
  if (HasFatalFailure()) return;
  ASSERT_EQ(cli({"start", "sb"}).status, 0);
  BundleSpec spec;
  spec.args = {"sleep", "1000"};
  spec.config_json = R"("mounts":[{"destination":"/cg","type":"cgroup","source":"cgroup"}],)"
                     R"("linux":{"resources":{"memory":{"limit":67108864}}},)" +
                     annotations("container", "sb");
  Bundle m(spec);
  ASSERT_EQ(detached("create --bundle " + m.dir() + " m1", io_.path() + "/m1.out"), 0)
      << read_file(io_.path() + "/err");
  ASSERT_EQ(cli({"start", "m1"}).status, 0);
  auto upd = cli({"update", "--memory", "100m", "--pids-limit", "30", "--cpu-quota", "20000",
                  "--cpu-period", "100000", "m1"});
  EXPECT_EQ(upd.status, 0) << upd.err;
  auto seen = cli({"exec", "m1", "sh", "-c",
                   "cat /cg/memory.max /cg/pids.max /cg/cpu.max; grep MemTotal /proc/meminfo"});
  ASSERT_EQ(seen.status, 0) << seen.err;
  unsigned long long max = 0, total_kib = 0;
  unsigned pids = 0;
  char cpu[64] = {};
  ASSERT_EQ(sscanf(seen.out.c_str(), "%llu\n%u\n%63[^\n]\nMemTotal: %llu kB", &max, &pids, cpu,
                   &total_kib),
            4)
      << seen.out;
  EXPECT_EQ(max, 100ull << 20);
  EXPECT_EQ(pids, 30u);
  EXPECT_STREQ(cpu, "20000 100000");
  EXPECT_GT(total_kib, 1024ull * 1024) << "the pod's 2 GiB VM was not ballooned: " << seen.out;
  auto cpus = cli({"update", "--cpuset-cpus", "0", "m1"});
  EXPECT_EQ(cpus.status, 1 << 8);
  EXPECT_NE(cpus.err.find("cpu.cpus: cannot change for a pod member"), std::string::npos)
      << cpus.err;
  EXPECT_EQ(cli({"delete", "--force", "m1"}).status, 0);
  EXPECT_EQ(cli({"delete", "--force", "sb"}).status, 0);
  EXPECT_TRUE(root_.entries().empty());
}

// As runc's pods: the sandbox's end takes its members along, and their
// state says so.
TEST_F(PodTest, DeletingTheSandboxStopsItsMembers) {
  create_sandbox();
  if (HasFatalFailure()) return;
  ASSERT_EQ(cli({"start", "sb"}).status, 0);
  BundleSpec m_spec;
  m_spec.args = {"sleep", "600"};
  m_spec.config_json = annotations("container", "sb");
  Bundle m(m_spec);
  std::string pid_file = io_.path() + "/m1.pid";
  ASSERT_EQ(detached("create --bundle " + m.dir() + " --pid-file " + pid_file + " m1",
                     io_.path() + "/m1.out"),
            0)
      << read_file(io_.path() + "/err");
  ASSERT_EQ(cli({"start", "m1"}).status, 0);
  EXPECT_TRUE(mounted_under_root());
  EXPECT_EQ(cli({"delete", "--force", "sb"}).status, 0);
  long relay = read_pid(pid_file);
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(relay), &status, 0), relay);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_NE(cli({"state", "m1"}).out.find("\"stopped\""), std::string::npos);
  EXPECT_EQ(cli({"delete", "m1"}).status, 0);
  EXPECT_TRUE(root_.entries().empty());
  EXPECT_FALSE(mounted_under_root());
  for (int i = 0; i < 50 && !qemus_of_root().empty(); ++i) usleep(100 * 1000);
  EXPECT_TRUE(qemus_of_root().empty());
}

// delete --force of a running member: when it returns, the member's
// rootfs and binds are unbound, and the sandbox runs on.
TEST_F(PodTest, ForcedDeleteOfARunningMemberLeavesNoMount) {
  create_sandbox();
  if (HasFatalFailure()) return;
  ASSERT_EQ(cli({"start", "sb"}).status, 0);
  TempDir data;
  BundleSpec m_spec;
  m_spec.args = {"sleep", "600"};
  m_spec.config_json = R"("mounts":[{"destination":"/data","type":"bind","source":")" +
                       data.path() + R"(","options":["rbind"]}],)" + annotations("container", "sb");
  Bundle m(m_spec);
  ASSERT_EQ(detached("create --bundle " + m.dir() + " m1", io_.path() + "/m1.out"), 0)
      << read_file(io_.path() + "/err");
  ASSERT_EQ(cli({"start", "m1"}).status, 0);
  EXPECT_TRUE(mounted_under_root());
  EXPECT_EQ(cli({"delete", "--force", "m1"}).status, 0);
  EXPECT_FALSE(mounted_under_root());
  EXPECT_NE(cli({"state", "sb"}).out.find("\"running\""), std::string::npos);
  EXPECT_EQ(cli({"delete", "--force", "sb"}).status, 0);
  EXPECT_TRUE(root_.entries().empty());
}

// A member the agent refuses (no such executable): create fails with runc's
// line and leaves no state, relay or mount; the sandbox runs on.
TEST_F(PodTest, ARefusedMemberLeavesNothing) {
  create_sandbox();
  if (HasFatalFailure()) return;
  TempDir data;
  BundleSpec m_spec;
  m_spec.args = {"/no/such"};
  m_spec.config_json = R"("mounts":[{"destination":"/data","type":"bind","source":")" +
                       data.path() + R"(","options":["rbind"]}],)" + annotations("container", "sb");
  Bundle m(m_spec);
  auto r = cli({"create", "--bundle", m.dir(), "m1"});
  EXPECT_EQ(WEXITSTATUS(r.status), 1);
  EXPECT_NE(r.err.find("runvm: create m1: unable to start container process: exec: \"/no/such\""),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(root_.path() + "/m1"));
  EXPECT_FALSE(mounted_under_root()) << read_file("/proc/self/mountinfo");
  EXPECT_NE(cli({"state", "sb"}).out.find("\"created\""), std::string::npos);
  EXPECT_EQ(cli({"delete", "--force", "sb"}).status, 0);
  EXPECT_TRUE(root_.entries().empty());
}

// The VM dying under the pod (its QEMU killed) stops every member, and
// state tells the truth for each.
TEST_F(PodTest, KillingTheSandboxsQemuStopsEveryMember) {
  create_sandbox();
  if (HasFatalFailure()) return;
  ASSERT_EQ(cli({"start", "sb"}).status, 0);
  BundleSpec m_spec;
  m_spec.args = {"sleep", "600"};
  m_spec.config_json = annotations("container", "sb");
  Bundle m(m_spec);
  std::vector<long> relays;
  for (const char* id : {"m1", "m2"}) {
    std::string pid_file = io_.path() + "/" + id + ".pid";
    ASSERT_EQ(detached("create --bundle " + m.dir() + " --pid-file " + pid_file + " " + id,
                       io_.path() + "/" + id + ".out"),
              0)
        << read_file(io_.path() + "/err");
    relays.push_back(read_pid(pid_file));
  }
  ASSERT_EQ(cli({"start", "m1"}).status, 0);  // m2 stays created
  auto qemus = qemus_of_root();
  ASSERT_EQ(qemus.size(), 1u);
  ASSERT_EQ(kill(qemus[0], SIGKILL), 0);
  for (long relay : relays) {
    int status = 0;
    ASSERT_EQ(waitpid(static_cast<pid_t>(relay), &status, 0), relay);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  }
  for (const char* id : {"m1", "m2"})
    EXPECT_NE(cli({"state", id}).out.find("\"stopped\""), std::string::npos) << id;
  EXPECT_FALSE(mounted_under_root());
  for (const char* id : {"m1", "m2", "sb"}) EXPECT_EQ(cli({"delete", id}).status, 0) << id;
  EXPECT_TRUE(root_.entries().empty());
}

// A member with a terminal: its relay sends the pty master to the console
// socket (runc's protocol) and relays the guest's pty.
TEST_F(PodTest, AMembersTerminalGoesToItsConsoleSocket) {
  create_sandbox();
  if (HasFatalFailure()) return;
  BundleSpec m_spec;
  m_spec.args = {"sh", "-c", "test -t 0 && test -t 1 && echo tty-$((6*7)); exit 5"};
  m_spec.terminal = true;
  m_spec.config_json = annotations("container", "sb");
  Bundle m(m_spec);
  std::string sock = io_.path() + "/console.sock", pid_file = io_.path() + "/m1.pid";
  UniqueFd listener = testing::listen_console(sock);
  ASSERT_TRUE(listener.valid());
  int master = -1;
  std::thread receiver([&] { master = testing::accept_console_master(listener.get()); });
  int created = detached("create --bundle " + m.dir() + " --console-socket " + sock +
                             " --pid-file " + pid_file + " m1",
                         io_.path() + "/m1.out");
  receiver.join();
  ASSERT_EQ(created, 0) << read_file(io_.path() + "/err");
  ASSERT_GE(master, 0);
  UniqueFd m_fd(master);
  ASSERT_EQ(cli({"start", "m1"}).status, 0);
  std::string seen;
  char buf[256];
  for (;;) {
    pollfd p{m_fd.get(), POLLIN, 0};
    if (poll(&p, 1, 20000) <= 0) break;
    ssize_t n = read(m_fd.get(), buf, sizeof buf);
    if (n <= 0) break;  // EIO once the relay, holding the slave, is gone
    seen.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(seen.find("tty-42"), std::string::npos) << seen;
  long pid = read_pid(pid_file);
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(pid), &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 5) << status;
  EXPECT_EQ(cli({"delete", "m1"}).status, 0);
  EXPECT_EQ(cli({"delete", "--force", "sb"}).status, 0);
  EXPECT_TRUE(root_.entries().empty());
}

// The member's bundle must come with a sandbox that takes members.
TEST_F(PodTest, AMemberOfAContainerThatIsNoSandboxIsOneError) {
  BundleSpec plain_spec;
  plain_spec.args = {"sleep", "600"};
  Bundle plain(plain_spec);
  ASSERT_EQ(detached("create --bundle " + plain.dir() + " sb", io_.path() + "/sb.out"), 0)
      << read_file(io_.path() + "/err");
  BundleSpec m_spec;
  m_spec.config_json = annotations("container", "sb");
  Bundle m(m_spec);
  auto r = cli({"create", "--bundle", m.dir(), "m1"});
  EXPECT_EQ(WEXITSTATUS(r.status), 1);
  EXPECT_EQ(r.err,
            "runvm: create m1: sandbox \"sb\": its VM takes no members (not created as a pod "
            "sandbox)\n");
  EXPECT_FALSE(std::filesystem::exists(root_.path() + "/m1"));
  EXPECT_EQ(cli({"delete", "--force", "sb"}).status, 0);
}

// A member's bind sources reach the running VM through the pod share: a
// read-only directory and a file, as Kubernetes binds /etc/hosts; and a
// read-only root stays read-only.
TEST_F(PodTest, AMembersBindMountsComeThroughThePodShare) {
  create_sandbox();
  if (HasFatalFailure()) return;
  TempDir data, etc;
  std::ofstream(data.path() + "/hello") << "from-the-host\n";
  std::ofstream(etc.path() + "/hosts") << "127.0.0.1 pod\n";
  BundleSpec m_spec;
  m_spec.args = {"sh", "-c",
                 "cat /data/hello /etc/hosts; echo x > /data/new || echo x > /root-file || exit 3"};
  m_spec.readonly_root = true;
  m_spec.config_json = R"("mounts":[{"destination":"/data","type":"bind","source":")" +
                       data.path() + R"(","options":["rbind","ro"]},)" +
                       R"({"destination":"/etc/hosts","type":"bind","source":")" + etc.path() +
                       R"(/hosts","options":["bind"]}],)" + annotations("container", "sb");
  Bundle m(m_spec);
  std::string pid_file = io_.path() + "/m1.pid", out = io_.path() + "/m1.out";
  ASSERT_EQ(detached("create --bundle " + m.dir() + " --pid-file " + pid_file + " m1", out), 0)
      << read_file(io_.path() + "/err");
  EXPECT_EQ(qemus_of_root().size(), 1u);
  ASSERT_EQ(cli({"start", "m1"}).status, 0);
  long pid = read_pid(pid_file);
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(pid), &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << status;
  EXPECT_EQ(read_file(out), "from-the-host\n127.0.0.1 pod\n");
  EXPECT_FALSE(std::filesystem::exists(data.path() + "/new"));
  EXPECT_FALSE(std::filesystem::exists(m.rootfs() + "/root-file"));
  EXPECT_FALSE(mounted_under_root());
  EXPECT_EQ(cli({"delete", "m1"}).status, 0);
  EXPECT_EQ(cli({"delete", "--force", "sb"}).status, 0);
  EXPECT_TRUE(root_.entries().empty());
  // The sources are as they were.
  EXPECT_EQ(read_file(etc.path() + "/hosts"), "127.0.0.1 pod\n");
}

TEST_F(PodTest, AMemberOfNoRunningSandboxIsOneError) {
  BundleSpec spec;
  spec.config_json = annotations("container", "nope");
  Bundle b(spec);
  auto r = cli({"create", "--bundle", b.dir(), "m1"});
  EXPECT_EQ(WEXITSTATUS(r.status), 1);
  EXPECT_EQ(r.err, "runvm: create m1: sandbox \"nope\": not a running runvm container\n");
  EXPECT_TRUE(root_.entries().empty());
}

}  // namespace
}  // namespace runvm
