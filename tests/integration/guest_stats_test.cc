// `runvm events` with the container's numbers from the guest through the
// real runvm: `--stats` reports its guest cgroup's memory in runc's slots
// (it grows by what the container allocates), and a process of the
// container killed by the guest's OOM killer becomes runc's "oom" event
// while the container keeps running.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

#include "spec/base/json.h"
#include "tests/integration/bundle_fixture.h"
#include "tests/integration/runtime_fixture.h"
#include "tests/support/require.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::read_file;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

// 256 MiB of memory, a host cgroup (relative: under the test's own) and a
// tmpfs whose pages are charged to the writer's cgroup.
std::string config_with_cgroup(const std::string& path) {
  return R"("linux":{"cgroupsPath":")" + path +
         R"(","resources":{"memory":{"limit":268435456}}},)"
         R"("mounts":[{"destination":"/fill","type":"tmpfs","source":"tmpfs"}])";
}

class GuestStatsTest : public testing::RuntimeTest {
 protected:
  // Create and start `id` detached (its stdio to a file).
  void run_detached(const Bundle& b, const std::string& id) {
    std::string cmd = runvm_binary() + " --root " + root_.path() + " run -d -b " + b.dir() + " " +
                      id + " </dev/null >" + files_.path() + "/out 2>&1";
    ASSERT_EQ(system(cmd.c_str()), 0) << read_file(files_.path() + "/out");
  }
  // One `events --stats` line, parsed; nullopt (and a failure) otherwise.
  std::optional<json::Document> stats(const std::string& id) {
    auto r = runvm({"events", "--stats", id});
    EXPECT_EQ(r.status, 0) << r.err;
    auto doc = json::Document::parse(r.out);
    EXPECT_TRUE(doc.ok() && doc->root().at("data").ok()) << r.out;
    if (!doc.ok() || !doc->root().at("data").ok()) return std::nullopt;
    return std::move(*doc);
  }
};

uint64_t member(const json::Value& v, std::initializer_list<const char*> path) {
  json::Value at = v;
  for (const char* key : path) {
    auto next = at.at(key);
    if (!next.ok()) {
      ADD_FAILURE() << next.error().message;
      return 0;
    }
    at = *next;
  }
  auto n = at.as_uint();
  EXPECT_TRUE(n.ok()) << n.error().message;
  return n.ok() ? *n : 0;
}

TEST_F(GuestStatsTest, EventsStatsShowTheGuestMemoryGrow) {
  RUNVM_REQUIRE(geteuid() == 0, "root (to make the host cgroup)");
  Bundle b({.args = {"sleep", "600"},
            .config_json = config_with_cgroup("runvm-stats-" + std::to_string(getpid()))});
  run_detached(b, "st");
  auto before = stats("st");
  ASSERT_TRUE(before);
  json::Value data = *before->root().at("data");
  uint64_t usage0 = member(data, {"memory", "usage", "usage"});
  // The guest cgroup's memory.max: the limit, under the guest's RAM.
  uint64_t limit = member(data, {"memory", "usage", "limit"});
  EXPECT_GT(limit, 200ull << 20);
  EXPECT_LE(limit, 256ull << 20);
  EXPECT_EQ(member(data, {"pids", "current"}), 1u);  // sleep, the guest's count
  EXPECT_GT(member(data, {"cpu", "usage", "total"}), 0u);
  // The host side, in its own member: shim and QEMU.
  EXPECT_EQ(member(data, {"runvm_host", "processes"}), 2u);
  EXPECT_GT(member(data, {"runvm_host", "rss"}), 10ull << 20);
  // Their host cgroup (what containerd and Podman read): QEMU's memory.
  uint64_t host0 = member(data, {"runvm_host", "cgroup", "memory", "usage"});
  EXPECT_GT(host0, 10ull << 20);

  auto fill = runvm({"exec", "st", "sh", "-c", "dd if=/dev/zero of=/fill/x bs=1M count=50"});
  ASSERT_EQ(fill.status, 0) << fill.err;
  auto after = stats("st");
  ASSERT_TRUE(after);
  data = *after->root().at("data");
  uint64_t usage1 = member(data, {"memory", "usage", "usage"});
  EXPECT_GE(usage1, usage0 + (48ull << 20)) << "before " << usage0 << ", after " << usage1;
  EXPECT_GE(member(data, {"memory", "usage", "max"}), usage1);
  EXPECT_GE(member(data, {"memory", "raw", "shmem"}), 50ull << 20);
  // The guest RAM the allocation touched is QEMU's on the host.
  EXPECT_GE(member(data, {"runvm_host", "cgroup", "memory", "usage"}), host0 + (40ull << 20));
  EXPECT_EQ(runvm({"delete", "--force", "st"}).status, 0);
}

// A child the guest's OOM killer kills (the container's process lives on):
// `runvm events` prints runc's oom event while the container still runs.
TEST_F(GuestStatsTest, LiveOomEventForAChildWhileTheContainerRuns) {
  Bundle b({.args = {"sleep", "600"},
            .config_json = R"("linux":{"resources":{"memory":{"limit":134217728}}})"});
  run_detached(b, "oomc");
  std::string events_out = files_.path() + "/events";
  pid_t events = testing::spawn_to_files(
      testing::runvm_argv(root_.path(), {"events", "--interval", "1h", "oomc"}), events_out, "");
  ASSERT_GE(events, 0);
  // busybox dd: one 300 MiB buffer in a 128 MiB cgroup.
  auto dd = runvm({"exec", "oomc", "sh", "-c", "dd if=/dev/zero of=/dev/null bs=300M count=1"});
  EXPECT_TRUE(WIFSIGNALED(dd.status) || (WIFEXITED(dd.status) && WEXITSTATUS(dd.status) != 0))
      << dd.status;
  // Promptly: the agent sees memory.events change, the shim records it, the
  // stream polls every 100 ms.
  const std::string kOom = "{\"type\":\"oom\",\"id\":\"oomc\"}\n";
  auto t0 = std::chrono::steady_clock::now();
  while (read_file(events_out) != kOom &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(read_file(events_out), kOom);
  EXPECT_NE(runvm({"state", "oomc"}).out.find("\"status\": \"running\""), std::string::npos);
  if (auto now = stats("oomc")) {
    EXPECT_EQ(member(*now->root().at("data"), {"pids", "current"}), 1u);
  }

  // The end (not an OOM kill) adds no event; the stream ends with the shim.
  EXPECT_EQ(runvm({"delete", "--force", "oomc"}).status, 0);
  int ws = 0;
  for (int i = 0; i < 100 && waitpid(events, &ws, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (kill(events, 0) == 0) {
    kill(events, SIGKILL);
    waitpid(events, &ws, 0);
    ADD_FAILURE() << "runvm events outlived the container";
  }
  EXPECT_EQ(read_file(events_out), kOom);
}

}  // namespace
}  // namespace runvm
