// QEMU as a container's VM runs it (docs/security.md, "QEMU's confinement"):
// no capabilities, no_new_privs, its seccomp filter, a mount namespace
// holding only its own files, and runvm.toml's vm.qemu_user when set; the
// container still runs and its exit code still comes back.
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "tests/integration/bundle_fixture.h"
#include "tests/integration/runtime_fixture.h"
#include "tests/support/proc_status.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::read_file;

std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

class QemuConfinementTest : public testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    RUNVM_REQUIRE(::geteuid() == 0, "root (QEMU's mount namespace and user switch)");
  }

  // `runvm [--config <toml>] run` of a container that outlives the checks
  // and exits 7; runs `check(qemu pid)` while it runs; returns run's status.
  template <typename Check>
  int run_and_check(const std::string& toml, Check check) {
    Bundle b({.args = {"sh", "-c", "sleep 4; exit 7"}});
    std::vector<std::string> args;
    if (!toml.empty()) {
      std::string config = files_.path() + "/runvm.toml";
      std::ofstream(config) << toml;
      args = {"--config", config};
    }
    args.insert(args.end(), {"run", "-b", b.dir(), "confined"});
    auto argv = testing::runvm_argv(root_.path(), args);
    pid_t run = testing::spawn_to_files(argv, files_.path() + "/out", files_.path() + "/err");
    EXPECT_GT(run, 0);
    if (run <= 0) return -1;
    pid_t qemu = -1;
    for (int i = 0; i < 600 && qemu <= 0; ++i) {
      // The shim's command line names QEMU too (--qemu): QEMU is the one
      // running it.
      for (pid_t p : testing::qemu_processes_mentioning(root_.path()))
        if (read_file("/proc/" + std::to_string(p) + "/comm").starts_with("qemu-system")) qemu = p;
      if (qemu <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_GT(qemu, 0) << "no QEMU for the container: " << read_file(files_.path() + "/err");
    // Checked once the container runs: QEMU installs its seccomp filter as
    // it initialises, after exec.
    bool running = false;
    for (int i = 0; i < 600 && !running; ++i) {
      running = runvm({"state", "confined"}).out.find("\"running\"") != std::string::npos;
      if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(running) << read_file(files_.path() + "/err");
    if (qemu > 0 && running) check(qemu);
    int status = 0;
    ::waitpid(run, &status, 0);
    return status;
  }

  // Every mount QEMU sees is one of these (and the kernel's is there).
  static void expect_only_its_own_mounts(pid_t qemu) {
    auto assets = testing::vm_assets();
    const std::string kernel = canonical(assets.kernel), initrd = canonical(assets.initrd);
    std::vector<std::string> allowed = {
        "/", "/usr", "/etc/ld.so.cache", "/dev/null", "/dev/urandom", "/dev/kvm", kernel, initrd};
    auto points = testing::proc_mount_points(qemu);
    ASSERT_FALSE(points.empty());
    for (const auto& p : points)
      EXPECT_NE(std::find(allowed.begin(), allowed.end(), p), allowed.end()) << "mounted: " << p;
    EXPECT_NE(std::find(points.begin(), points.end(), kernel), points.end()) << kernel;
    EXPECT_NE(std::find(points.begin(), points.end(), initrd), points.end()) << initrd;
  }

  static void expect_no_privileges(pid_t qemu) {
    for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
      EXPECT_EQ(testing::proc_status_field(qemu, set), "0000000000000000") << set;
    EXPECT_EQ(testing::proc_status_field(qemu, "NoNewPrivs"), "1");
    EXPECT_EQ(testing::proc_status_field(qemu, "Seccomp"), "2") << "no -sandbox filter";
  }
};

TEST_F(QemuConfinementTest, DefaultQemuIsRootWithoutPrivilegesInItsOwnRoot) {
  int status = run_and_check("", [](pid_t qemu) {
    expect_no_privileges(qemu);
    EXPECT_EQ(testing::proc_status_field(qemu, "Uid"), "0\t0\t0\t0");
    expect_only_its_own_mounts(qemu);
  });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 7) << read_file(files_.path() + "/err");
}

TEST_F(QemuConfinementTest, QemuUserFromRunvmTomlRunsIt) {
  int status = run_and_check("[vm]\nqemu_user = \"65534:65534\"\n", [](pid_t qemu) {
    expect_no_privileges(qemu);
    EXPECT_EQ(testing::proc_status_field(qemu, "Uid"), "65534\t65534\t65534\t65534");
    EXPECT_EQ(testing::proc_status_field(qemu, "Gid"), "65534\t65534\t65534\t65534");
    EXPECT_EQ(testing::proc_status_field(qemu, "Groups"), "65534");
    expect_only_its_own_mounts(qemu);
  });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 7) << read_file(files_.path() + "/err");
}

TEST_F(QemuConfinementTest, UnknownQemuUserIsOneLineAndLeavesNothing) {
  Bundle b({.args = {"true"}});
  std::string config = files_.path() + "/runvm.toml";
  std::ofstream(config) << "[vm]\nqemu_user = \"no-such-user-runvm\"\n";
  auto r = runvm({"--config", config, "run", "-b", b.dir(), "nouser"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no-such-user-runvm: no such user"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace runvm
