// Runs the real qemu-system-x86_64 (TCG) with the cached guest kernel.
#include "shim/engine/qemu_engine.h"

#include <fcntl.h>
#include <glob.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "spec/base/unix_socket.h"
#include "tests/support/proc_status.h"
#include "tests/support/read_file.h"
#include "tests/support/require.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

using namespace std::chrono_literals;

// The guest kernel: the one the build was configured with (-DRUNVM_KERNEL),
// else $RUNVM_KERNEL, else any cached build under $RUNVM_CACHE (default
// /var/cache/runvm), as guest/kernel/build.sh lays it out.
std::string find_kernel() {
  for (std::string k : {std::string(RUNVM_CONFIGURED_KERNEL),
                        std::string(getenv("RUNVM_KERNEL") ? getenv("RUNVM_KERNEL") : "")})
    if (!k.empty() && ::access(k.c_str(), R_OK) == 0) return k;
  const char* cache = getenv("RUNVM_CACHE");
  std::string pattern =
      std::string(cache && *cache ? cache : "/var/cache/runvm") + "/kernel/*/vmlinux";
  glob_t g{};
  std::string found;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc > 0) found = g.gl_pathv[0];
  ::globfree(&g);
  return found;
}

bool qemu_present() { return ::system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0; }

using testing::read_file;

bool pid_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

std::string status_of(QemuEngine& e) {
  auto r = e.qmp("query-status");
  return r.ok() ? *r : "error: " + r.error().message;
}

class QemuEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE(qemu_present(), "qemu-system-x86_64 (apt-get install qemu-system-x86)");
    kernel_ = find_kernel();
    RUNVM_REQUIRE(!kernel_.empty(),
                  "guest kernel (-DRUNVM_KERNEL, $RUNVM_KERNEL or "
                  "$RUNVM_CACHE/kernel/*/vmlinux)");
  }

  VmConfig config() const {
    VmConfig c;
    c.machine.kernel = kernel_;
    c.machine.memory_mib = 128;
    c.console_log = dir_ + "/console.log";
    c.engine_log = dir_ + "/qemu.log";
    // Without a root fs the guest panics: hang instead of exiting.
    c.machine.cmdline_extra = "panic=0";
    return c;
  }

  std::string kernel_;
  testing::TempDir tmp_{"runvm-engine"};
  const std::string dir_ = tmp_.path();
};

TEST_F(QemuEngineTest, LifecyclePausedStartResumePauseQuit) {
  QemuEngine e;
  VmConfig c = config();
  c.start_paused = true;
  ASSERT_TRUE(e.start(c).ok()) << read_file(c.engine_log);
  const pid_t pid = e.pid();
  EXPECT_GT(pid, 0);
  EXPECT_GE(e.pidfd(), 0);
  EXPECT_NE(status_of(e).find(R"("status":"prelaunch")"), std::string::npos) << status_of(e);

  ASSERT_TRUE(e.resume().ok());
  EXPECT_NE(status_of(e).find(R"("running":true)"), std::string::npos) << status_of(e);
  auto pause = e.pause();
  ASSERT_TRUE(pause.ok()) << pause.error().message;
  EXPECT_NE(status_of(e).find(R"("status":"paused")"), std::string::npos) << status_of(e);
  ASSERT_TRUE(e.resume().ok());

  ASSERT_TRUE(e.stop().ok());
  auto status = e.wait();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe_wait_status(*status);
  EXPECT_TRUE(pid_gone(pid));
  EXPECT_FALSE(e.pause().ok()) << "no control channel after exit";
}

TEST_F(QemuEngineTest, GuestExitIsSeenOnPidfdAndConsoleGoesToItsFile) {
  QemuEngine e;
  VmConfig c = config();
  c.machine.cmdline_extra.clear();  // panic=-1 + -no-reboot: the guest's panic ends QEMU
  // Paused until QMP is up: otherwise a fast panic can beat the handshake.
  c.start_paused = true;
  ASSERT_TRUE(e.start(c).ok()) << read_file(c.engine_log);
  ASSERT_TRUE(e.resume().ok());
  pollfd p{e.pidfd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 120000), 1) << "guest did not exit";
  auto status = e.wait();
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFEXITED(*status)) << describe_wait_status(*status);
  EXPECT_NE(read_file(c.console_log).find("Kernel panic"), std::string::npos);
  EXPECT_EQ(read_file(c.engine_log).find("Kernel panic"), std::string::npos)
      << "serial leaked to QEMU's stdout";
}

// docs/security.md: QEMU runs with no capability, no_new_privs, its own
// seccomp filter (-sandbox) and a root that holds only its own files.
TEST_F(QemuEngineTest, QemuRunsConfined) {
  RUNVM_REQUIRE(::geteuid() == 0, "root (a mount namespace for QEMU needs CAP_SYS_ADMIN)");
  QemuEngine e;
  VmConfig c = config();
  c.start_paused = true;
  ASSERT_TRUE(e.start(c).ok()) << read_file(c.engine_log);
  const pid_t pid = e.pid();
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    EXPECT_EQ(testing::proc_status_field(pid, set), "0000000000000000") << set;
  EXPECT_EQ(testing::proc_status_field(pid, "NoNewPrivs"), "1");
  EXPECT_EQ(testing::proc_status_field(pid, "Seccomp"), "2");
  char kernel[PATH_MAX];
  ASSERT_NE(::realpath(kernel_.c_str(), kernel), nullptr);
  std::vector<std::string> allowed = {"/",         "/usr",         "/etc/ld.so.cache",
                                      "/dev/null", "/dev/urandom", kernel};
  auto points = testing::proc_mount_points(pid);
  ASSERT_FALSE(points.empty());
  for (const auto& p : points)
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), p), allowed.end()) << "mounted: " << p;
  EXPECT_NE(std::find(points.begin(), points.end(), std::string(kernel)), points.end());
  // The guest still runs under all of it.
  ASSERT_TRUE(e.resume().ok());
  EXPECT_NE(status_of(e).find(R"("running":true)"), std::string::npos) << status_of(e);
  ASSERT_TRUE(e.stop().ok());
}

TEST_F(QemuEngineTest, BadOptionFailsWithQemusOwnMessage) {
  QemuEngine e;
  VmConfig c = config();
  auto backend = listen_unix(dir_ + "/fs.sock");
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  // virtio-fs tags are at most 36 bytes: QEMU refuses the device.
  c.devices.push_back({VhostUserDevice::kFs, dir_ + "/fs.sock", 3, std::string(40, 't')});
  auto st = e.start(c);
  ASSERT_FALSE(st.ok());
  const std::string& msg = st.error().message;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  EXPECT_NE(msg.find("qemu exited with status 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tag"), std::string::npos) << msg;
  EXPECT_TRUE(pid_gone(e.pid()) || e.pid() <= 0);
}

// The engine connects QEMU's vhost-user streams itself: a backend that is
// not there fails the start before QEMU runs, naming its socket.
TEST_F(QemuEngineTest, MissingBackendFailsNamingItsSocket) {
  QemuEngine e;
  VmConfig c = config();
  c.devices.push_back({VhostUserDevice::kVsock, dir_ + "/no-backend.sock", 3, ""});
  auto st = e.start(c);
  ASSERT_FALSE(st.ok());
  const std::string& msg = st.error().message;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  EXPECT_NE(msg.find("no-backend.sock"), std::string::npos) << msg;
  EXPECT_LE(e.pid(), 0) << "no QEMU was started";
}

TEST_F(QemuEngineTest, SilentVhostUserBackendTimesOutAndKillsQemu) {
  VmConfig c = config();
  c.start_timeout = 1s;
  // Accepts (in the backlog) but never speaks vhost-user: QEMU blocks in
  // device setup and never answers QMP.
  auto backend = listen_unix(dir_ + "/silent.sock");
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  c.devices.push_back({VhostUserDevice::kVsock, dir_ + "/silent.sock", 3, ""});
  QemuEngine e;
  auto st = e.start(c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("timed out"), std::string::npos) << st.error().message;
  EXPECT_TRUE(pid_gone(e.pid())) << "qemu left behind";
}

TEST_F(QemuEngineTest, MissingBinaryFails) {
  QemuEngine e;
  VmConfig c = config();
  c.machine.qemu = "/nonexistent/qemu-system-x86_64";
  EXPECT_FALSE(e.start(c).ok());
}

TEST_F(QemuEngineTest, DestroyingTheEngineKillsQemu) {
  pid_t pid;
  UniqueFd watch;
  {
    auto e = make_qemu_engine();
    ASSERT_TRUE(e.ok());
    VmConfig c = config();
    c.start_paused = true;
    ASSERT_TRUE((*e)->start(c).ok()) << read_file(c.engine_log);
    pid = (*e)->pid();
    watch.reset(::fcntl((*e)->pidfd(), F_DUPFD_CLOEXEC, 0));
  }
  pollfd p{watch.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1) << "still running";
  EXPECT_TRUE(pid_gone(pid)) << "not reaped";
}

TEST_F(QemuEngineTest, StopEscalatesToSigkillWhenQmpIsUnresponsive) {
  QemuEngine e;
  VmConfig c = config();
  c.start_paused = true;
  ASSERT_TRUE(e.start(c).ok()) << read_file(c.engine_log);
  ASSERT_EQ(::kill(e.pid(), SIGSTOP), 0);  // QEMU can no longer answer "quit"
  ASSERT_TRUE(e.stop().ok());
  auto status = e.wait();
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
      << describe_wait_status(*status);
}

TEST_F(QemuEngineTest, KillEndsQemuAtOnceAndLeavesTheReapingToWait) {
  QemuEngine e;
  VmConfig c = config();
  c.start_paused = true;
  ASSERT_TRUE(e.start(c).ok()) << read_file(c.engine_log);
  pid_t pid = e.pid();
  ASSERT_TRUE(e.kill().ok());
  auto status = e.wait();
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
      << describe_wait_status(*status);
  EXPECT_TRUE(pid_gone(pid));
  EXPECT_FALSE(e.pause().ok()) << "no control channel after a kill";
  EXPECT_TRUE(e.kill().ok()) << "a second kill finds nothing to do";
}

}  // namespace
}  // namespace runvm
