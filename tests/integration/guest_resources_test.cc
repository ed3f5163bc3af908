// The container's limits inside the guest through the real runvm: its
// cgroup there gets memory.max (under the guest's RAM), cpu.max and
// cpu.weight from linux.resources; a process that allocates past the memory
// limit is OOM-killed in the guest within seconds, the container exits 137
// as under runc, `runvm events` reports runc's "oom" event and <bundle>/oom
// is left for Podman's OOMKilled. Memory the guest frees returns to the host.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/integration/bundle_fixture.h"
#include "tests/integration/runtime_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::read_file;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

constexpr char kLimits[] = R"("linux":{"resources":{"memory":{"limit":134217728},)"
                           R"("cpu":{"quota":50000,"period":100000,"shares":1024}}})";
// busybox dd: one 300 MiB buffer, touched by reading /dev/zero into it.
constexpr char kAllocate[] = "dd if=/dev/zero of=/dev/null bs=300M count=1";

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

using GuestResourcesTest = testing::RuntimeTest;

TEST_F(GuestResourcesTest, ContainerCgroupGetsTheLimits) {
  // A cgroup mount shows the container's own cgroup at the top.
  Bundle b(
      {.args = {"sh", "-c", "cat /cg/memory.max /cg/cpu.max /cg/cpu.weight"},
       .config_json = std::string(kLimits) +
                      R"(,"mounts":[{"destination":"/cg","type":"cgroup","source":"cgroup"}])"});
  auto r = runvm({"run", "-b", b.dir(), "limits"});
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << " " << r.err;
  // The 128 MiB guest's RAM less the 16 MiB kept for the agent and kernel:
  // under the container's limit, so the cgroup (not the guest) runs out.
  unsigned long long max = 0;
  char cpu[64] = {};
  unsigned weight = 0;
  ASSERT_EQ(sscanf(r.out.c_str(), "%llu\n%63[^\n]\n%u", &max, cpu, &weight), 3) << r.out;
  EXPECT_LT(max, 128ull << 20);
  EXPECT_GT(max, 90ull << 20);
  EXPECT_STREQ(cpu, "50000 100000");
  EXPECT_EQ(weight, 39u);  // runc's conversion of 1024 shares
}

TEST_F(GuestResourcesTest, AllocationPastTheLimitIsOomKilledFast) {
  Bundle b({.args = {"sh", "-c", std::string(kAllocate) + "; exit $?"}, .config_json = kLimits});
  auto t0 = std::chrono::steady_clock::now();
  auto r = runvm({"run", "-b", b.dir(), "oom"});
  auto took = std::chrono::steady_clock::now() - t0;
  // sh reports its child's SIGKILL as 137, as under runc.
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 137) << r.status << " " << r.err;
  EXPECT_LT(took, std::chrono::seconds(30));
  EXPECT_TRUE(exists(b.dir() + "/oom"));
}

// `runvm events` started while the container runs prints runc's oom event
// when the guest kills its process, and ends with the shim.
TEST_F(GuestResourcesTest, EventsReportTheOomKill) {
  Bundle b({.args = {"sh", "-c", std::string("sleep 1; ") + kAllocate}, .config_json = kLimits});
  std::string cmd = runvm_binary() + " --root " + root_.path() + " create -b " + b.dir() +
                    " ev </dev/null >" + files_.path() + "/out 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0) << read_file(files_.path() + "/out");
  std::string events_out = files_.path() + "/events";
  pid_t events = testing::spawn_to_files(
      testing::runvm_argv(root_.path(), {"events", "--interval", "1h", "ev"}), events_out, "");
  ASSERT_GE(events, 0);
  auto started = runvm({"start", "ev"});
  EXPECT_EQ(started.status, 0) << started.err;
  std::string status;
  for (int i = 0; i < 600 && status != "stopped"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto st = runvm({"state", "ev"}).out;
    status = st.find("\"status\": \"stopped\"") != std::string::npos ? "stopped" : st;
  }
  EXPECT_EQ(status, "stopped");
  // The stream polls every 100 ms: the event is out well before this.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto deleted = runvm({"delete", "ev"});
  EXPECT_EQ(deleted.status, 0) << deleted.err;
  int ws = 0;
  for (int i = 0; i < 100 && waitpid(events, &ws, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (kill(events, 0) == 0) {
    kill(events, SIGKILL);
    waitpid(events, &ws, 0);
    ADD_FAILURE() << "runvm events outlived the container";
  }
  EXPECT_EQ(read_file(events_out), "{\"type\":\"oom\",\"id\":\"ev\"}\n");
}

long rss_mib(pid_t pid) {
  std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("VmRSS:");
  return at == std::string::npos ? -1 : std::stol(status.substr(at + 6)) / 1024;
}

// Free page reporting (virtio-balloon): what the guest frees goes back to
// the host. Without it QEMU keeps the 200 MiB the guest once touched.
TEST_F(GuestResourcesTest, FreedGuestMemoryReturnsToTheHost) {
  std::string out = files_.path() + "/out";
  Bundle b({.args = {"sh", "-c",
                     "sleep 3; dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; "
                     "echo freed; sleep 60"},
            .config_json = R"("annotations":{"runvm.io/memory":"512M"})"});
  std::string cmd = runvm_binary() + " --root " + root_.path() + " create -b " + b.dir() +
                    " fpr </dev/null >" + out + " 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0) << read_file(out);
  pid_t qemu = -1;
  for (pid_t pid : testing::qemu_processes_mentioning(root_.path())) qemu = pid;
  ASSERT_GT(qemu, 0);
  ASSERT_EQ(runvm({"start", "fpr"}).status, 0);
  long idle = rss_mib(qemu);
  for (int i = 0; i < 600 && read_file(out).find("freed") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_NE(read_file(out).find("freed"), std::string::npos) << read_file(out);
  // The guest reports free 2 MiB blocks about 2 s after they were freed.
  long now = rss_mib(qemu);
  for (int i = 0; i < 200 && now > idle + 64; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = rss_mib(qemu);
  }
  EXPECT_LE(now, idle + 64) << "QEMU's RSS: idle " << idle << " MiB, after the guest freed 200 MiB "
                            << now << " MiB";
  EXPECT_EQ(runvm({"delete", "--force", "fpr"}).status, 0);
}

}  // namespace
}  // namespace runvm
