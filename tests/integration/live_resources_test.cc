// Resources applied to the running VM through the real runvm: the container's
// cpuset pins QEMU's vCPU threads (shim/engine/vcpu_affinity.h).
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::read_file;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A field of /proc/<pid>/task/<tid>/status, e.g. "Cpus_allowed_list".
std::string status_field(const std::string& status_path, const std::string& field) {
  std::string status = read_file(status_path);
  size_t at = status.find(field + ":");
  if (at == std::string::npos) return "";
  size_t start = status.find_first_not_of(" \t", at + field.size() + 1);
  return status.substr(start, status.find('\n', start) - start);
}

class LiveResourcesTest : public ::testing::Test {
 protected:
  void SetUp() override { RUNVM_REQUIRE_VM_ASSETS(); }
  void TearDown() override {
    EXPECT_TRUE(root_.entries().empty());
    EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
  }
  testing::CommandResult runvm(std::vector<std::string> args) {
    std::vector<std::string> argv = {runvm_binary(), "--root", root_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  pid_t qemu_pid() {
    pid_t qemu = -1;
    for (pid_t pid : testing::qemu_processes_mentioning(root_.path())) qemu = pid;
    return qemu;
  }
  TempDir root_, files_;
};

// podman --cpuset-cpus 0: every vCPU thread ("CPU n/TCG" or "CPU n/KVM")
// of the container's QEMU may run on CPU 0 only.
TEST_F(LiveResourcesTest, CpusetPinsTheVcpuThreads) {
  Bundle b(
      {.args = {"sleep", "60"}, .config_json = R"("linux":{"resources":{"cpu":{"cpus":"0"}}})"});
  // Through the shell: the shim keeps the create's stdio, so capture to files.
  std::string out = files_.path() + "/out";
  std::string cmd = runvm_binary() + " --root " + root_.path() + " create -b " + b.dir() +
                    " pin </dev/null >" + out + " 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0) << read_file(out);
  pid_t qemu = qemu_pid();
  ASSERT_GT(qemu, 0);
  std::string task_dir = "/proc/" + std::to_string(qemu) + "/task";
  DIR* d = opendir(task_dir.c_str());
  ASSERT_NE(d, nullptr);
  int vcpus = 0;
  bool unpinned_other = false;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string task = task_dir + "/" + e->d_name;
    std::string comm = trimmed(read_file(task + "/comm"));
    std::string allowed = status_field(task + "/status", "Cpus_allowed_list");
    if (comm.rfind("CPU ", 0) == 0) {
      ++vcpus;
      EXPECT_EQ(allowed, "0") << comm;
    } else if (allowed != "0") {
      unpinned_other = true;
    }
  }
  closedir(d);
  EXPECT_EQ(vcpus, 1);
  // Only the vCPUs are pinned here: QEMU's other threads keep the host
  // cgroup's cpuset (which is all CPUs on a host without a cgroup driver).
  if (sysconf(_SC_NPROCESSORS_ONLN) > 1) EXPECT_TRUE(unpinned_other);
  EXPECT_EQ(runvm({"delete", "--force", "pin"}).status, 0);
}

}  // namespace
}  // namespace runvm
