// Fault injection at each lifecycle stage (issue 15, docs/faults.md): a
// table of stages × faults through the real runvm binary. For each stage one
// --root (a small tmpfs, so it can be filled) holds a neighbour container
// that runs throughout; per fault a victim container is brought to the
// stage, the fault is injected, and then:
//   - every verb returns within a bound (the host stays responsive);
//   - `runvm state` tells the truth (stopped once the VM is gone, or the
//     stage's status when the fault left it intact);
//   - `runvm delete` (-f when not stopped) leaves no process, state or
//     socket entry and no mount behind;
//   - the neighbour is still running and answers `exec`.
// The VMs boot runvm-agent-test (RUNVM_INITRD), whose crash trigger
// (PROTOCOL.md "Test extension: crash") crashes the agent on request.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "spec/base/json.h"
#include "spec/cgroup/cgroup.h"
#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using namespace std::chrono_literals;
using testing::Bundle;
using testing::CommandResult;
using testing::TempDir;

enum class Stage { kCreating, kCreated, kRunning, kExecInFlight, kPaused, kStopping };
enum class Fault { kKillQemu, kKillShim, kAgentCrash, kDiskFull };

const char* name_of(Stage s) {
  switch (s) {
    case Stage::kCreating:
      return "creating";
    case Stage::kCreated:
      return "created";
    case Stage::kRunning:
      return "running";
    case Stage::kExecInFlight:
      return "exec_in_flight";
    case Stage::kPaused:
      return "paused";
    case Stage::kStopping:
      return "stopping";
  }
  return "?";
}

const char* name_of(Fault f) {
  switch (f) {
    case Fault::kKillQemu:
      return "kill -9 QEMU";
    case Fault::kKillShim:
      return "kill -9 shim";
    case Fault::kAgentCrash:
      return "agent crash";
    case Fault::kDiskFull:
      return "disk full";
  }
  return "?";
}

// A verb that takes longer than this means the host is not responsive.
constexpr auto kVerbBound = 60s;
// How long a VM that lost its QEMU, shim or agent may take to read stopped.
constexpr auto kStopBound = 30s;
// What status_of() returns once the victim is gone (runc's message).
const std::string kMissing = "error: runvm: state victim: container does not exist\n";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string cmdline_of(pid_t pid) {
  std::string s = read_text("/proc/" + std::to_string(pid) + "/cmdline");
  for (auto& c : s)
    if (c == '\0') c = ' ';
  return s;
}

pid_t parent_of(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(paren + 2));
  char state;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

bool live(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  return !stat.empty() && stat.find(") Z") == std::string::npos;
}

// Live processes whose command line contains `needle` (not zombies).
std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = static_cast<pid_t>(atoi(e->d_name));
    if (pid <= 0 || pid == getpid()) continue;
    if (cmdline_of(pid).find(needle) != std::string::npos && live(pid)) out.push_back(pid);
  }
  closedir(d);
  return out;
}

std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
    closedir(d);
  }
  return out;
}

bool mounted_under(const std::string& path) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mounts, line))
    if (line.find(path + "/") != std::string::npos) return true;
  return false;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string describe(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return "signal " + std::to_string(WTERMSIG(wait_status));
  return "status " + std::to_string(wait_status);
}

// A tmpfs --root of `size`, unmounted at the end; small, so a test can fill it.
class TmpfsRoot {
 public:
  explicit TmpfsRoot(const std::string& size) {
    mounted_ = mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  ~TmpfsRoot() {
    if (mounted_) umount2(dir_.path().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& path() const { return dir_.path(); }
  std::vector<std::string> entries() const { return dir_.entries(); }
  // Writes a file until the filesystem has no space left; true if it filled.
  bool fill() {
    std::ofstream out(path() + "/filler", std::ios::binary);
    std::string chunk(64 * 1024, 'x');
    while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()))) {
    }
    out.close();
    // Small writes too, until even a page cannot be had.
    std::ofstream tail(path() + "/filler2", std::ios::binary);
    while (tail.write("x", 1) && tail.flush()) {
    }
    filled_ = true;
    return true;
  }
  void unfill() {
    unlink((path() + "/filler").c_str());
    unlink((path() + "/filler2").c_str());
    filled_ = false;
  }
  bool filled() const { return filled_; }

 private:
  TempDir dir_;
  bool mounted_ = false, filled_ = false;
};

// Names the stage in gtest's messages (not "4-byte object").
void PrintTo(Stage s, std::ostream* os) { *os << name_of(s); }

class FaultTest : public ::testing::TestWithParam<Stage> {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_VM_ASSETS();
    RUNVM_REQUIRE(root_.mounted(), "root (to mount a tmpfs --root)");
    neighbour_ = std::make_unique<Bundle>(testing::BundleSpec{.args = {"sleep", "100000"}});
    auto run = runvm({"run", "-d", "-b", neighbour_->dir(), "nb"});
    ASSERT_EQ(run.status, 0) << run.err;
    ASSERT_EQ(status_of("nb"), "running");
    neighbour_shim_ = pid_of("nb");
    // Ignores SIGTERM, so a `kill` (TERM) leaves it stopping; /trapped (on
    // the host, through the rootfs share) says the trap is set. It has a host
    // cgroup and a network namespace of its own (its tap's), which delete
    // must remove.
    auto layout = cgroup::detect_layout();
    RUNVM_REQUIRE(layout.ok(), "a cgroupfs (for the victim's host cgroup)");
    layout_ = std::move(*layout);
    // Unique per test (ctest runs them in parallel, each in its own process).
    std::string cgroup_path =
        "runvm-fault-" + std::to_string(getpid()) + "-" + std::to_string(++cgroup_serial_);
    auto cg = cgroup::Cgroup::resolve(layout_, cgroup_path);
    ASSERT_TRUE(cg.ok()) << cg.error().message;
    for (const auto& d : cg->dirs()) victim_cgroup_dirs_.push_back(d.path);
    victim_bundle_ = std::make_unique<Bundle>(testing::BundleSpec{
        .args = {"sh", "-c", "trap '' TERM; touch /trapped; while :; do sleep 1; done"},
        .config_json = "\"linux\":{\"cgroupsPath\":\"" + cgroup_path +
                       "\",\"namespaces\":[{\"type\":\"network\"}]}"});
  }
  void TearDown() override {
    if (root_.filled()) root_.unfill();
    for (const auto& id : {std::string("victim"), std::string("nb")})
      if (root_.mounted()) (void)runvm({"delete", "--force", id});
    if (root_.mounted()) {
      EXPECT_TRUE(processes_mentioning(root_.path()).empty()) << "processes left";
      EXPECT_FALSE(mounted_under(root_.path()));
    }
  }

  // Runs `runvm --root <root> args` with RUNVM_INITRD naming the test
  // initramfs; kills it (and fails the test) after kVerbBound.
  CommandResult runvm(const std::vector<std::string>& args,
                      std::chrono::seconds bound = kVerbBound) {
    pid_t pid = spawn(args);
    return wait_bounded(pid, bound, args);
  }
  pid_t spawn(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "RUNVM_INITRD=" + testing::vm_assets().test_initrd};
    for (auto& a : testing::runvm_argv(root_.path(), args)) argv.push_back(a);
    ++serial_;
    return testing::spawn_to_files(argv, out_path(serial_), err_path(serial_));
  }
  CommandResult wait_bounded(pid_t pid, std::chrono::seconds bound,
                             const std::vector<std::string>& args) {
    CommandResult r;
    int n = serial_;
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (true) {
      pid_t w = waitpid(pid, &r.status, WNOHANG);
      if (w == pid) break;
      if (std::chrono::steady_clock::now() > deadline) {
        std::string what;
        for (auto& a : args) what += a + " ";
        ADD_FAILURE() << "runvm " << what << "did not return within " << bound.count() << " s";
        kill(pid, SIGKILL);
        waitpid(pid, &r.status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    r.out = read_text(out_path(n));
    r.err = read_text(err_path(n));
    return r;
  }
  // What a case did, for docs/faults.md's table (printed, not asserted).
  void note(const std::string& what) {
    std::cout << "[ outcome  ] " << case_ << ": " << what << "\n";
  }
  std::string out_path(int n) const { return files_.path() + "/" + std::to_string(n) + ".out"; }
  std::string err_path(int n) const { return files_.path() + "/" + std::to_string(n) + ".err"; }

  // The status `runvm state` reports, or "error: <its stderr>".
  std::string status_of(const std::string& id) {
    auto r = runvm({"state", id});
    auto doc = json::Document::parse(r.out);
    if (r.status != 0 || !doc.ok()) return "error: " + r.err;
    auto s = doc->root().at("status");
    return s.ok() ? s->as_string().value_or("") : "";
  }
  pid_t pid_of(const std::string& id) {
    auto doc = json::Document::parse(runvm({"state", id}).out);
    if (!doc.ok()) return -1;
    auto p = doc->root().at("pid");
    return p.ok() ? static_cast<pid_t>(p->as_int().value_or(-1)) : -1;
  }
  bool becomes(const std::string& id, const std::string& status,
               std::chrono::seconds bound = kStopBound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    do {
      if (status_of(id) == status) return true;
      std::this_thread::sleep_for(100ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }

  // The victim's shim, found by its command line (its pid is not in the
  // state while it is being created), and its QEMU, the shim's child.
  pid_t victim_shim() {
    for (pid_t p : processes_mentioning("--id victim "))
      if (cmdline_of(p).find(root_.path()) != std::string::npos &&
          read_text("/proc/" + std::to_string(p) + "/comm").rfind("runvm-shim", 0) == 0)
        return p;
    return -1;
  }
  pid_t qemu_of(pid_t shim) {
    for (pid_t p : processes_mentioning(root_.path()))
      if (parent_of(p) == shim &&
          read_text("/proc/" + std::to_string(p) + "/comm").rfind("qemu", 0) == 0)
        return p;
    return -1;
  }
  // Every process belonging to the victim: mentions the root, and is not
  // the neighbour's shim or one of its children.
  std::vector<pid_t> victim_processes() {
    std::vector<pid_t> out;
    for (pid_t p : processes_mentioning(root_.path()))
      if (p != neighbour_shim_ && parent_of(p) != neighbour_shim_) out.push_back(p);
    return out;
  }

  // Brings the victim to `stage` (all but creating, which inject() races).
  void bring_to(Stage stage) {
    std::string trapped = victim_bundle_->rootfs() + "/trapped";
    unlink(trapped.c_str());
    auto create = runvm({"create", "-b", victim_bundle_->dir(), "victim"});
    ASSERT_EQ(create.status, 0) << create.err;
    ASSERT_EQ(status_of("victim"), "created");
    for (const auto& d : victim_cgroup_dirs_)
      ASSERT_EQ(access(d.c_str(), F_OK), 0) << "no host cgroup: " << d;
    if (stage == Stage::kCreated) return;
    auto start = runvm({"start", "victim"});
    ASSERT_EQ(start.status, 0) << start.err;
    ASSERT_EQ(status_of("victim"), "running");
    auto deadline = std::chrono::steady_clock::now() + kVerbBound;
    while (access(trapped.c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    ASSERT_EQ(access(trapped.c_str(), F_OK), 0) << "the victim's process never ran";
    if (stage == Stage::kExecInFlight) {
      exec_pid_ = spawn({"exec", "victim", "sh", "-c", "echo started; exec sleep 100000"});
      exec_serial_ = serial_;
      deadline = std::chrono::steady_clock::now() + kVerbBound;
      while (read_text(out_path(exec_serial_)) != "started\n" &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
      ASSERT_EQ(read_text(out_path(exec_serial_)), "started\n")
          << read_text(err_path(exec_serial_));
    }
    if (stage == Stage::kPaused) {
      auto pause = runvm({"pause", "victim"});
      ASSERT_EQ(pause.status, 0) << pause.err;
      ASSERT_EQ(status_of("victim"), "paused");
    }
    if (stage == Stage::kStopping) {
      auto term = runvm({"kill", "victim", "TERM"});
      ASSERT_EQ(term.status, 0) << term.err;
      std::this_thread::sleep_for(500ms);
      ASSERT_EQ(status_of("victim"), "running");  // it ignores TERM
    }
  }

  // The write step a full disk meets at each stage, and the status that is
  // then true.
  void disk_full_step(Stage stage) {
    ASSERT_TRUE(root_.fill());
    switch (stage) {
      case Stage::kCreated: {
        auto start = runvm({"start", "victim"});
        note("start: " + (start.status == 0 ? std::string("ok") : first_line(start.err)));
        if (start.status == 0) {
          EXPECT_EQ(status_of("victim"), "running") << "start succeeded on a full disk";
        } else {
          EXPECT_NE(start.err, "");
          EXPECT_EQ(status_of("victim"), "created") << "start failed: " << start.err;
        }
        break;
      }
      case Stage::kRunning: {
        auto pause = runvm({"pause", "victim"});
        note("pause: " + (pause.status == 0 ? std::string("ok") : first_line(pause.err)));
        if (pause.status == 0)
          EXPECT_EQ(status_of("victim"), "paused") << "pause succeeded on a full disk";
        else
          EXPECT_EQ(status_of("victim"), "running") << "pause failed: " << pause.err;
        break;
      }
      case Stage::kPaused: {
        auto resume = runvm({"resume", "victim"});
        note("resume: " + (resume.status == 0 ? std::string("ok") : first_line(resume.err)));
        if (resume.status == 0)
          EXPECT_EQ(status_of("victim"), "running") << "resume succeeded on a full disk";
        else
          EXPECT_EQ(status_of("victim"), "paused") << "resume failed: " << resume.err;
        break;
      }
      case Stage::kExecInFlight:
      case Stage::kStopping: {
        // The container's exit is what the shim records.
        auto k = runvm({"kill", "victim", "KILL"});
        EXPECT_EQ(k.status, 0) << k.err;
        note("kill KILL: " + (k.status == 0 ? std::string("ok") : first_line(k.err)));
        EXPECT_TRUE(becomes("victim", "stopped")) << status_of("victim");
        break;
      }
      case Stage::kCreating:
        break;
    }
  }

  void inject(Stage stage, Fault fault) {
    pid_t shim = victim_shim();
    ASSERT_GT(shim, 0);
    pid_t qemu = qemu_of(shim);
    switch (fault) {
      case Fault::kKillQemu:
        ASSERT_GT(qemu, 0);
        ASSERT_EQ(kill(qemu, SIGKILL), 0);
        break;
      case Fault::kKillShim:
        ASSERT_EQ(kill(shim, SIGKILL), 0);
        break;
      case Fault::kAgentCrash: {
        auto crash = runvm({"exec", "victim", "runvm-test-crash-agent"});
        EXPECT_NE(crash.status, 0);
        EXPECT_NE(crash.err, "");
        note("exec runvm-test-crash-agent: " + first_line(crash.err));
        break;
      }
      case Fault::kDiskFull:
        disk_full_step(stage);
        break;
    }
    if (fault != Fault::kDiskFull) {
      EXPECT_TRUE(becomes("victim", "stopped")) << status_of("victim");
    }
    if (fault == Fault::kAgentCrash) {
      // The VM ended because its PID 1, the agent, died: nothing else.
      std::string console = read_text(root_.path() + "/victim/console.log");
      EXPECT_NE(console.find("Attempted to kill init"), std::string::npos) << console;
    }
    note("state: " + status_of("victim"));
    if (exec_pid_ > 0) {
      // The exec's caller ends on its own once its process or VM is gone.
      auto r = wait_bounded(exec_pid_, kVerbBound, {"exec (in flight)"});
      exec_pid_ = -1;
      EXPECT_NE(r.status, 0);
      note("exec in flight: " + describe(r.status) + " " +
           first_line(read_text(err_path(exec_serial_))));
    }
  }

  // The creating stage: the fault lands while `create` waits for the boot.
  void creating(Fault fault) {
    if (fault == Fault::kDiskFull) {
      ASSERT_TRUE(root_.fill());
      auto create = runvm({"create", "-b", victim_bundle_->dir(), "victim"});
      EXPECT_NE(create.status, 0);
      EXPECT_NE(create.err.find("No space left on device"), std::string::npos) << create.err;
      note("create: " + first_line(create.err));
      EXPECT_EQ(status_of("victim"), kMissing);
      return;
    }
    pid_t create = spawn({"create", "-b", victim_bundle_->dir(), "victim"});
    int create_serial = serial_;
    // QEMU up and the state still "creating": the boot is in progress.
    pid_t shim = -1, qemu = -1;
    auto deadline = std::chrono::steady_clock::now() + kVerbBound;
    while ((shim = victim_shim()) <= 0 || (qemu = qemu_of(shim)) <= 0) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no QEMU for victim";
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(status_of("victim"), "creating");
    ASSERT_EQ(kill(fault == Fault::kKillQemu ? qemu : shim, SIGKILL), 0);
    auto r = wait_bounded(create, kVerbBound, {"create"});
    EXPECT_NE(r.status, 0) << "create succeeded although its VM was killed";
    std::string err = read_text(err_path(create_serial));
    // One line that says what happened to which process.
    EXPECT_NE(err.find(fault == Fault::kKillQemu ? "qemu killed by signal SIGKILL"
                                                 : "runvm-shim was killed by signal 9 (SIGKILL)"),
              std::string::npos)
        << err;
    note("create: " + first_line(err));
    // A failed create leaves nothing: the container does not exist.
    EXPECT_EQ(status_of("victim"), kMissing);
  }

  void expect_cleanup_and_neighbour_fine(Stage stage, Fault fault) {
    std::string st = status_of("victim");
    auto del = runvm(st == "stopped" || st.rfind("error", 0) == 0
                         ? std::vector<std::string>{"delete", "victim"}
                         : std::vector<std::string>{"delete", "--force", "victim"});
    if (st.rfind("error", 0) == 0) {
      EXPECT_NE(del.status, 0);  // runc: delete of a missing container fails
    } else {
      EXPECT_EQ(del.status, 0) << del.err;
      EXPECT_EQ(del.err, "");
    }
    EXPECT_EQ(status_of("victim"), kMissing);
    // At once: nothing of the container may outlive delete.
    for (pid_t p : victim_processes()) ADD_FAILURE() << "left running: " << cmdline_of(p);
    EXPECT_FALSE(mounted_under(root_.path() + "/victim"));
    EXPECT_FALSE(mounted_under(victim_bundle_->dir()));
    for (const auto& d : victim_cgroup_dirs_)
      EXPECT_NE(access(d.c_str(), F_OK), 0) << "host cgroup left: " << d;
    std::vector<std::string> want = {"@s", "nb"};
    if (root_.filled()) want = {"@s", "filler", "filler2", "nb"};
    EXPECT_EQ(root_.entries(), want);
    EXPECT_EQ(entries_of(root_.path() + "/@s").size(), 1u) << "socket dirs left";
    EXPECT_EQ(status_of("nb"), "running");
    auto hello = runvm({"exec", "nb", "echo", "alive"});
    EXPECT_EQ(hello.out, "alive\n") << hello.err;
    (void)stage;
    (void)fault;
  }

  TmpfsRoot root_{"16m"};
  TempDir files_;
  std::unique_ptr<Bundle> neighbour_, victim_bundle_;
  cgroup::Layout layout_;
  std::vector<std::string> victim_cgroup_dirs_;
  pid_t neighbour_shim_ = -1, exec_pid_ = -1;
  int serial_ = 0, exec_serial_ = 0;
  std::string case_;
  int cgroup_serial_ = 0;
};

// The private resident memory of a process in KiB (RssAnon: the heap and
// stacks; not the guest's memory, which the shim maps shared and which
// counts in VmRSS as soon as a FUSE read or write touches it), 0 if gone.
long rss_kib(pid_t pid) {
  std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::atol(line.c_str() + 8);
  return 0;
}

// The descriptors a process holds, but for O_PATH ones: the virtio-fs
// backend keeps one of those per inode the guest has looked up and not
// yet forgotten (as long as the guest caches it), while open files,
// sockets and pipes must all go when the guest is done with them.
size_t open_fds(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo/";
  size_t n = 0;
  for (const auto& fd : entries_of(dir)) {
    std::istringstream in(read_text(dir + fd));
    std::string key;
    unsigned long flags = 0;
    while (in >> key)
      if (key == "flags:") {
        in >> std::oct >> flags;
        break;
      }
    if (!(flags & O_PATH)) ++n;
  }
  return n;
}

// How much the victim's shim's private memory may grow while flooded: its
// queues and buffers are bounded (virtqueues, vsock credit, FUSE's
// max_write), so only a shim that buffered what the guest sends would
// pass this.
constexpr long kShimGrowthKib = 64 << 10;

// A guest flooding one of the host's devices from a process exec'd in the
// victim (`flood`, which prints one line and exits 0 after about 20 s):
// meanwhile `state` is true, both the victim and the neighbour answer
// exec and the victim's shim stays within kShimGrowthKib of its private
// memory; afterwards the victim still works, the shim holds no more
// descriptors (but for O_PATH ones) than before, and delete leaves nothing.
class FloodTest : public FaultTest {
 protected:
  void SetUp() override {
    FaultTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    // The hostile programs, before the guest looks at /bin (the rootfs
    // share caches its entries).
    for (const char* program : {"vsock-flood", "fuse-abuse"})
      std::filesystem::copy_file(testing::vm_assets().build_dir + "/tests/" + program,
                                 victim_bundle_->rootfs() + "/bin/" + program);
    bring_to(Stage::kRunning);
    ASSERT_FALSE(HasFatalFailure());
    shim_ = victim_shim();
    ASSERT_GT(shim_, 0);
    shim_rss_ = rss_kib(shim_);
    shim_fds_ = open_fds(shim_);
  }
  // For `duration`, rounds of: the victim reads running, and the neighbour
  // and the victim each answer an exec; the shim's size is sampled.
  int responsive_for(std::chrono::seconds duration) {
    auto end = std::chrono::steady_clock::now() + duration;
    int rounds = 0;
    while (std::chrono::steady_clock::now() < end) {
      EXPECT_EQ(status_of("victim"), "running");
      auto hello = runvm({"exec", "nb", "echo", "alive"}, 20s);
      EXPECT_EQ(hello.out, "alive\n") << hello.err;
      // The flooded VM itself still serves an exec.
      auto busy = runvm({"exec", "victim", "echo", "busy"}, 20s);
      EXPECT_EQ(busy.out, "busy\n") << busy.err;
      peak_rss_ = std::max(peak_rss_, rss_kib(shim_));
      ++rounds;
    }
    return rounds;
  }
  // After the flood: the victim still works; the shim stayed bounded and
  // holds no descriptor the flood left behind (give or take the few the
  // last exec's teardown may still hold).
  void after_flood(const std::string& what) {
    auto again = runvm({"exec", "victim", "echo", "recovered"});
    EXPECT_EQ(again.out, "recovered\n") << again.err;
    EXPECT_EQ(status_of("victim"), "running");
    EXPECT_LT(peak_rss_ - shim_rss_, kShimGrowthKib)
        << "the shim grew from " << shim_rss_ << " KiB to " << peak_rss_ << " KiB";
    size_t fds = 0;
    for (int i = 0; i < 50 && (fds = open_fds(shim_)) > shim_fds_ + 4; ++i)
      std::this_thread::sleep_for(100ms);
    EXPECT_LE(fds, shim_fds_ + 4) << "descriptors left in the shim by the flood";
    note(what + "; shim private memory " + std::to_string(shim_rss_) + " KiB, at most " +
         std::to_string(peak_rss_) + " KiB; descriptors (not O_PATH) " + std::to_string(shim_fds_) +
         " -> " + std::to_string(fds));
    expect_cleanup_and_neighbour_fine(Stage::kRunning, Fault::kKillQemu);
  }
  void flood_case(const std::string& what, const std::vector<std::string>& flood_argv,
                  std::chrono::seconds flood_bound = kVerbBound) {
    case_ = "running x " + what;
    std::vector<std::string> args = {"exec", "victim"};
    args.insert(args.end(), flood_argv.begin(), flood_argv.end());
    pid_t flood = spawn(args);
    int flood_serial = serial_;
    int rounds = responsive_for(15s);
    auto r = wait_bounded(flood, flood_bound, {"exec (flood)"});
    EXPECT_EQ(r.status, 0) << read_text(err_path(flood_serial));
    std::string report = read_text(out_path(flood_serial));
    EXPECT_NE(report, "");
    after_flood("flood: " + first_line(report) + "; victim and neighbour each answered " +
                std::to_string(rounds) + " execs meanwhile");
  }
  // `runvm exec victim <args>` with the given stdin and stdout.
  pid_t spawn_with(const std::vector<std::string>& args, int in, int out) {
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "RUNVM_INITRD=" + testing::vm_assets().test_initrd};
    for (auto& a : testing::runvm_argv(root_.path(), args)) argv.push_back(a);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ++serial_;
    std::string err = err_path(serial_);
    pid_t pid = fork();
    if (pid == 0) {
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (e < 0) _exit(126);
      dup2(in, 0);
      dup2(out, 1);
      dup2(e, 2);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    return pid;
  }
  pid_t shim_ = -1;
  long shim_rss_ = 0, peak_rss_ = 0;
  size_t shim_fds_ = 0;
};

// Connection requests to the agent's taken port and closed ones, 512
// half-open at a time (tests/integration/vsock_flood.c).
TEST_F(FloodTest, VsockConnectionStormLeavesHostVictimAndNeighbourWorking) {
  flood_case("vsock connection storm", {"vsock-flood", "20"});
}

// Eight guest processes issuing FUSE requests on the rootfs share as fast
// as they can for 20 s: lookups and reads (ls, cat of busybox) and
// create/write/unlink of files.
TEST_F(FloodTest, FuseRequestStormLeavesHostVictimAndNeighbourWorking) {
  flood_case("FUSE request storm",
             {"sh", "-c",
              "end=$(($(date +%s) + 20)); i=0; while [ $i -lt 8 ]; do"
              " (n=0; while [ $(date +%s) -lt $end ]; do ls -la /bin >/dev/null;"
              " cat /bin/busybox >/dev/null; echo $n > /storm.$i; rm /storm.$i;"
              " n=$((n+1)); done; echo $n > /count.$i) & i=$((i+1)); done; wait;"
              " total=0; for f in /count.*; do total=$((total + $(cat $f))); rm $f; done;"
              " echo $total rounds"});
}

// Credit abuse, guest to host: the container writes 64 MiB to its stdout
// as fast as it can while the host side of that stream (the exec's stdout,
// a pipe nobody reads for 15 s) takes nothing. The host must stop granting
// credit, not buffer what the guest sends; then, read, every byte arrives.
TEST_F(FloodTest, GuestWritingFasterThanTheHostReadsIsHeldBackByCredit) {
  case_ = "running x vsock credit: guest writes, host does not read";
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  int null_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t writer =
      spawn_with({"exec", "victim", "head", "-c", "67108864", "/dev/zero"}, null_in, out[1]);
  int writer_serial = serial_;
  close(out[1]);
  close(null_in);
  int rounds = responsive_for(15s);
  // The exec's own relay holds back too.
  EXPECT_LT(rss_kib(writer), kShimGrowthKib) << "runvm exec buffers what it cannot write";
  // Now read it all: nothing may be lost to the back-pressure.
  std::atomic<long long> got{0};
  std::thread reader([&] {
    char buf[1 << 16];
    for (ssize_t n; (n = read(out[0], buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      got += n;
    }
  });
  auto r = wait_bounded(writer, 180s, {"exec (writer)"});
  reader.join();
  close(out[0]);
  EXPECT_EQ(r.status, 0) << read_text(err_path(writer_serial));
  EXPECT_EQ(got.load(), 64LL << 20);
  after_flood("64 MiB held back for 15 s, then " + std::to_string(got.load() >> 20) +
              " MiB read; victim and neighbour each answered " + std::to_string(rounds) +
              " execs meanwhile");
}

// Credit abuse, host to guest: eight processes that never read their
// stdin while the host has an endless one (/dev/zero) for each. Once the
// guest's receive buffers are full the host must stop sending and keep
// nothing queued per stream beyond its bound; the processes then end, and
// so do their execs.
TEST_F(FloodTest, GuestNeverReadingItsStdinHoldsTheHostBack) {
  case_ = "running x vsock credit: host writes, guest never reads";
  int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  int null_out = open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::vector<std::pair<pid_t, int>> sleepers;
  for (int i = 0; i < 8; ++i) {
    pid_t p = spawn_with({"exec", "victim", "sleep", "25"}, zero, null_out);
    sleepers.push_back({p, serial_});
  }
  close(zero);
  close(null_out);
  int rounds = responsive_for(15s);
  // Neither do the execs' relays read more than they can send.
  for (auto [pid, serial] : sleepers)
    EXPECT_LT(rss_kib(pid), kShimGrowthKib) << "runvm exec buffers what it cannot send";
  for (auto [pid, serial] : sleepers) {
    auto r = wait_bounded(pid, kVerbBound, {"exec (sleeper)"});
    EXPECT_EQ(r.status, 0) << read_text(err_path(serial));
  }
  after_flood(
      "8 never-reading stdins fed from /dev/zero for 25 s; victim and neighbour each "
      "answered " +
      std::to_string(rounds) + " execs meanwhile");
}

// The largest and oddest FUSE requests a guest process can provoke, on
// the rootfs share (tests/integration/fuse_abuse.c): 4 MiB writes, a write
// at 1 TiB, a 3,000-entry readdir, 255/256-byte names, a 400-deep path of
// 200-byte names, 4,000 open files, 64 KiB and larger xattrs.
TEST_F(FloodTest, HugeAndOddFuseRequestsStayWithinBounds) {
  flood_case("FUSE huge and odd requests",
             {"sh", "-c", "mkdir /abuse && fuse-abuse /abuse && rmdir /abuse"}, 300s);
}

// The faults that apply at a stage. An agent crash needs the guest to run
// code: not while paused (its vCPUs are stopped) nor while creating (no
// exec reaches the agent before `create` returns).
std::vector<Fault> faults_at(Stage stage) {
  if (stage == Stage::kPaused || stage == Stage::kCreating)
    return {Fault::kKillQemu, Fault::kKillShim, Fault::kDiskFull};
  return {Fault::kKillQemu, Fault::kKillShim, Fault::kAgentCrash, Fault::kDiskFull};
}

TEST_P(FaultTest, EveryFaultLeavesTheTruthNothingBehindAndTheNeighbourRunning) {
  Stage stage = GetParam();
  for (Fault fault : faults_at(stage)) {
    case_ = std::string(name_of(stage)) + " x " + name_of(fault);
    SCOPED_TRACE(case_);
    if (stage == Stage::kCreating)
      creating(fault);
    else {
      bring_to(stage);
      if (!HasFatalFailure()) inject(stage, fault);
    }
    expect_cleanup_and_neighbour_fine(stage, fault);
    if (root_.filled()) root_.unfill();
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Stages, FaultTest,
                         ::testing::Values(Stage::kCreating, Stage::kCreated, Stage::kRunning,
                                           Stage::kExecInFlight, Stage::kPaused, Stage::kStopping),
                         [](const auto& info) { return std::string(name_of(info.param)); });

}  // namespace
}  // namespace runvm
