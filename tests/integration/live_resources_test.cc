// Resources applied to the running VM through the real runvm: the container's
// cpuset pins QEMU's vCPU threads (shim/engine/vcpu_affinity.h).
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

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
    auto argv = testing::runvm_argv(root_.path(), args);
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

// runvm update --memory: the guest's RAM shrinks with the balloon and the
// container cgroup's memory.max follows; growing back up to the boot size
// works, past it is one line naming the field.
TEST_F(LiveResourcesTest, UpdateMemoryBalloonsTheGuestAndItsCgroup) {
  Bundle b({.args = {"sleep", "120"},
            .config_json =
                R"("linux":{"resources":{"memory":{"limit":536870912}}},)"
                R"("mounts":[{"destination":"/cg","type":"cgroup","source":"cgroup"}])"});
  std::string out = files_.path() + "/out";
  std::string cmd = runvm_binary() + " --root " + root_.path() + " create -b " + b.dir() +
                    " upd </dev/null >" + out + " 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0) << read_file(out);
  ASSERT_EQ(runvm({"start", "upd"}).status, 0);
  // MemTotal (MiB) and memory.max (bytes) as the container sees them.
  auto probe = [&](uint64_t& mem_total_mib, uint64_t& memory_max) {
    auto r = runvm({"exec", "upd", "sh", "-c",
                    "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo; "
                    "cat /cg/memory.max"});
    unsigned long long kib = 0, max = 0;
    if (r.status != 0 || sscanf(r.out.c_str(), "%llu\n%llu", &kib, &max) != 2) return false;
    mem_total_mib = kib / 1024;
    memory_max = max;
    return true;
  };
  uint64_t total = 0, max = 0;
  ASSERT_TRUE(probe(total, max));
  EXPECT_GT(total, 400u);
  const uint64_t boot_total = total;
  // At boot: the limit capped under the guest's RAM less the agent's reserve.
  EXPECT_LT(max, 512ull << 20);
  EXPECT_GT(max, 400ull << 20);

  auto down = runvm({"update", "--memory", "256m", "upd"});
  ASSERT_EQ(down.status, 0) << down.err;
  // The guest gives its pages to the balloon at its own pace.
  for (int i = 0; i < 100 && probe(total, max) && total > 256; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LE(total, 256u);
  EXPECT_GT(total, 200u);
  EXPECT_EQ(max, (256ull << 20) - (16ull << 20));  // under the ballooned RAM

  auto up = runvm({"update", "--memory", "512m", "upd"});
  ASSERT_EQ(up.status, 0) << up.err;
  for (int i = 0; i < 100 && probe(total, max) && total < boot_total; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(total, boot_total);
  EXPECT_EQ(max, (512ull << 20) - (16ull << 20));

  auto past = runvm({"update", "--memory", "1g", "upd"});
  EXPECT_EQ(past.status, 1 << 8);
  EXPECT_EQ(past.err,
            "runvm: update upd: memory.limit: 1073741824 is more than the VM's boot size "
            "536870912 (the maximum)\n");
  auto cpus = runvm({"update", "--cpu-quota", "50000", "upd"});
  EXPECT_EQ(cpus.status, 1 << 8);
  EXPECT_NE(cpus.err.find("cpu.quota: cannot be changed on a running microVM"), std::string::npos)
      << cpus.err;
  EXPECT_EQ(runvm({"delete", "--force", "upd"}).status, 0);
}

}  // namespace
}  // namespace runvm
