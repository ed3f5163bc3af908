// Resources applied to the running VM through the real runvm: the container's
// cpuset pins QEMU's vCPU threads (shim/engine/vcpu_affinity.h); runvm
// update changes memory, CPU, pids and cpuset live, in the guest's cgroup
// and the host's.
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "spec/cgroup/cgroup.h"
#include "tests/integration/bundle_fixture.h"
#include "tests/integration/runtime_fixture.h"

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

class LiveResourcesTest : public testing::RuntimeTest {
 protected:
  pid_t qemu_pid() {
    pid_t qemu = -1;
    for (pid_t pid : testing::qemu_processes_mentioning(root_.path())) qemu = pid;
    return qemu;
  }
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
  if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
    EXPECT_TRUE(unpinned_other);
  }
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
  auto mems = runvm({"update", "--cpuset-mems", "0", "upd"});
  EXPECT_EQ(mems.status, 1 << 8);
  EXPECT_EQ(mems.err, "runvm: update upd: cpu.mems: cannot be changed on a running microVM\n");
  EXPECT_EQ(runvm({"delete", "--force", "upd"}).status, 0);
}

// runvm update of CPU, pids and cpuset on a container with a host cgroup:
// the guest's cgroup files and the host's follow; a fork bomb stops at the
// new pids limit; a quota above the VM's one vCPU is taken as it is; a
// later update keeps what an earlier one set (the config snapshot).
TEST_F(LiveResourcesTest, UpdateCpuPidsCpusetInTheGuestAndTheHost) {
  RUNVM_REQUIRE(geteuid() == 0, "root (to make cgroups)");
  auto layout = cgroup::detect_layout();
  RUNVM_REQUIRE(layout.ok() && layout->with("memory") && layout->with("cpu") &&
                    layout->with("cpu")->version == 1 && layout->with("cpuset"),
                "cgroup v1 cpu, cpuset and memory (this host's layout)");
  std::string path = "runvm-live-" + std::to_string(getpid());
  std::string config = files_.path() + "/runvm.toml";
  std::ofstream(config) << "[vm]\noverhead_mib = 100\n";
  Bundle b({.args = {"sleep", "300"},
            .config_json = "\"linux\":{\"cgroupsPath\":\"" + path +
                           "\",\"resources\":{\"memory\":{\"limit\":402653184},"
                           "\"pids\":{\"limit\":100}}},"
                           "\"mounts\":[{\"destination\":\"/cg\",\"type\":\"cgroup\","
                           "\"source\":\"cgroup\"}]"});
  auto cg = cgroup::Cgroup::resolve(*layout, path);
  ASSERT_TRUE(cg.ok());
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {runvm_binary(), "--root", root_.path(), "--config", config};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  };
  std::string out = files_.path() + "/out";
  std::string cmd = runvm_binary() + " --root " + root_.path() + " --config " + config +
                    " create -b " + b.dir() + " live </dev/null >" + out + " 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0) << read_file(out);
  ASSERT_EQ(run({"start", "live"}).status, 0);
  auto host = [&](const char* controller, const char* file) {
    return trimmed(read_file(cg->dir_of(controller) + "/" + file));
  };
  auto guest = [&](const std::string& files) {
    auto r = run({"exec", "live", "sh", "-c", "cat " + files + " | tr '\\n' ' '"});
    return r.status == 0 ? trimmed(r.out) : "exec failed: " + r.err;
  };
  EXPECT_EQ(host("memory", "memory.limit_in_bytes"), std::to_string(484ll << 20));
  EXPECT_EQ(guest("/cg/cpu.max /cg/pids.max"), "max 100000 100");

  // 1.5 CPUs on a one-vCPU VM: the guest cannot use more than its vCPU
  // anyway; the host caps QEMU (vCPU and I/O threads) at it.
  auto u = run({"update", "--cpu-quota", "150000", "--cpu-period", "100000", "--cpu-share", "512",
                "--pids-limit", "20", "--cpuset-cpus", "0", "--memory", "300m", "live"});
  ASSERT_EQ(u.status, 0) << u.err;
  EXPECT_EQ(u.out, "");
  EXPECT_EQ(guest("/cg/cpu.max /cg/cpu.weight /cg/pids.max"), "150000 100000 20 20");
  EXPECT_EQ(host("cpu", "cpu.cfs_quota_us"), "150000");
  EXPECT_EQ(host("cpu", "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(host("cpu", "cpu.shares"), "512");
  EXPECT_EQ(host("cpuset", "cpuset.cpus"), "0");
  // The balloon returns the guest's pages first, then the host limit follows.
  EXPECT_EQ(host("memory", "memory.limit_in_bytes"), std::to_string(400ll << 20));
  pid_t qemu = qemu_pid();
  ASSERT_GT(qemu, 0);
  std::string task_dir = "/proc/" + std::to_string(qemu) + "/task";
  DIR* d = opendir(task_dir.c_str());
  ASSERT_NE(d, nullptr);
  int vcpus = 0;
  while (dirent* e = readdir(d)) {
    std::string task = task_dir + "/" + e->d_name;
    if (e->d_name[0] == '.' || trimmed(read_file(task + "/comm")).rfind("CPU ", 0) != 0) continue;
    ++vcpus;
    EXPECT_EQ(status_field(task + "/status", "Cpus_allowed_list"), "0");
  }
  closedir(d);
  EXPECT_EQ(vcpus, 1);

  // The period alone keeps the quota the last update set.
  auto period = run({"update", "--cpu-period", "200000", "live"});
  ASSERT_EQ(period.status, 0) << period.err;
  EXPECT_EQ(guest("/cg/cpu.max"), "150000 200000");
  EXPECT_EQ(host("cpu", "cpu.cfs_quota_us"), "150000");
  EXPECT_EQ(host("cpu", "cpu.cfs_period_us"), "200000");
  // runc's errors for values the kernel refuses, by field; nothing changes.
  auto bad = run({"update", "--cpu-period", "500", "live"});
  EXPECT_EQ(bad.status, 1 << 8);
  EXPECT_EQ(bad.err, "runvm: update live: cpu.period: 500 is out of range (1000 .. 1000000)\n");
  auto nocpu = run({"update", "--cpuset-cpus", "64", "live"});
  EXPECT_EQ(nocpu.status, 1 << 8);
  EXPECT_EQ(nocpu.err.rfind("runvm: update live: cpu.cpus: host cgroup: ", 0), 0u) << nocpu.err;
  EXPECT_EQ(host("cpuset", "cpuset.cpus"), "0");
  // A fork bomb stops at the 20 processes: the shell cannot fork (which
  // ends it); its sleeps stay until the limit is lifted.
  auto bomb =
      run({"exec", "live", "sh", "-c", "i=0; while [ $i -lt 40 ]; do sleep 60 & i=$((i+1)); done"});
  EXPECT_NE(bomb.status, 0);
  EXPECT_NE(bomb.err.find("can't fork"), std::string::npos) << bomb.out << bomb.err;
  EXPECT_NE(guest("/cg/pids.max"), "20") << "no exec fits under the limit";
  // A paused VM's agent cannot answer: refused at once, nothing changes.
  ASSERT_EQ(run({"pause", "live"}).status, 0);
  auto paused = run({"update", "--cpu-quota", "50000", "live"});
  EXPECT_EQ(paused.err,
            "runvm: update live: container is paused: resume it to change its resources\n");
  EXPECT_EQ(host("cpu", "cpu.cfs_quota_us"), "150000");
  ASSERT_EQ(run({"resume", "live"}).status, 0);
  // No limits: -1, as runc.
  auto none = run({"update", "--cpu-quota", "-1", "--pids-limit", "-1", "live"});
  ASSERT_EQ(none.status, 0) << none.err;
  EXPECT_EQ(guest("/cg/cpu.max /cg/pids.max"), "max 200000 max");
  EXPECT_EQ(host("cpu", "cpu.cfs_quota_us"), "-1");
  // The bomb's sleeps are still there: with the container's own process
  // and this shell, the cgroup holds the 20 the limit allowed.
  auto count = run({"exec", "live", "sh", "-c", "read n </cg/pids.current; echo $n"});
  EXPECT_EQ(trimmed(count.out), "20") << count.err;

  EXPECT_EQ(run({"delete", "--force", "live"}).status, 0);
}

}  // namespace
}  // namespace runvm
