#include "guest/protocol/linux_spec.h"

#include <gtest/gtest.h>

#include "guest/protocol/container_messages.h"

namespace runvm::proto {
namespace {

Create full_create() {
  Create c;
  c.id = 7;
  c.container_id = "web";
  c.rootfs.tag = "rootfs";
  c.process.args = {"sh"};
  c.process.capabilities = Capabilities{{"CAP_KILL"}, {"CAP_CHOWN"}, {}, {"CAP_CHOWN"}, {}};
  c.process.oom_score_adj = -500;
  c.process.io_priority = IoPriority{"IOPRIO_CLASS_BE", 3};
  c.process.scheduler =
      Scheduler{"SCHED_DEADLINE", -5, 0, {"SCHED_FLAG_RESET_ON_FORK"}, 1000000, 2000000, 3000000};
  LinuxSpec& l = c.linux_spec;
  l.domainname = "example.org";
  l.mounts = {{"/data", "bind", "", "bind0", {"rbind", "ro"}},
              {"/t", "tmpfs", "tmpfs", "", {"size=1m"}}};
  l.devices = {{"c", "/dev/fuse", 10, 229, 0600, 1, 2}, {"p", "/dev/fifo", 0, 0, 0666, 0, 0}};
  l.rootfs_propagation = "rslave";
  l.pids_limit = 100;
  l.memory_limit = 128 << 20;
  l.cpu_quota = 50000;
  l.cpu_period = 100000;
  l.cpu_weight = 39;
  l.hugepage_limits = {{"2MB", 4 << 20}};
  l.sysctl = {{"vm.overcommit_ratio", "77"}};
  l.seccomp =
      Seccomp{"SCMP_ACT_ALLOW",
              std::nullopt,
              {"SCMP_ARCH_X86_64"},
              {"SECCOMP_FILTER_FLAG_LOG"},
              {{{"mkdir"}, "SCMP_ACT_ERRNO", 13, {{1, 0x1ff, UINT64_MAX, "SCMP_CMP_MASKED_EQ"}}}}};
  l.masked_paths = {"/proc/kcore"};
  l.readonly_paths = {"/proc/sys"};
  l.new_pid_ns = true;
  return c;
}

Result<Create> round_trip(const Create& c) {
  json::Writer w;
  w.begin_object();
  c.write(w);
  w.end_object();
  auto doc = RUNVM_TRY(json::Document::parse(w.str()));
  return Create::parse(doc.root());
}

Result<Create> parse(std::string_view text) {
  auto doc = RUNVM_TRY(json::Document::parse(text));
  return Create::parse(doc.root());
}

TEST(LinuxSpec, RoundTrips) {
  Create c = full_create();
  auto back = round_trip(c);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, c);
}

TEST(LinuxSpec, AbsentMeansDefaults) {
  auto c = parse(R"({"id":1,"container_id":"a","rootfs":{"tag":"r"},"process":{"args":["sh"]}})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->linux_spec, LinuxSpec{});
  EXPECT_FALSE(c->process.capabilities);
  EXPECT_FALSE(c->process.oom_score_adj);
}

TEST(LinuxSpec, HostileValuesAreErrors) {
  const std::string head = R"({"id":1,"container_id":"a","rootfs":{"tag":"r"},)";
  auto bad = [&](std::string_view rest) {
    auto c = parse(head + std::string(rest) + "}");
    return c.ok() ? std::string("(parsed)") : c.error().message;
  };
  EXPECT_NE(bad(R"("process":{"args":["sh"],"oom_score_adj":1001})"), "(parsed)");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"new_pid_namespace":1})"), "(parsed)");
  EXPECT_NE(bad(R"("process":{"args":["sh"],"capabilities":{"bounding":[1]}})"), "(parsed)");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"mounts":[{"destination":"rel"}]})"),
            "(parsed)");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"masked_paths":["x"]})"), "(parsed)");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"sysctl":{"a":1}})"), "(parsed)");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"seccomp":{"default_action":"A",
      "syscalls":[{"names":["x"],"action":"B","args":[{"index":6,"op":"SCMP_CMP_EQ"}]}]}})"),
            "(parsed)");
  EXPECT_NE(
      bad(R"("process":{"args":["sh"]},"linux":{"domainname":")" + std::string(65, 'x') + R"("})"),
      "(parsed)");
  EXPECT_EQ(bad(R"("process":{"args":["sh"]},"linux":{"devices":[{"type":"x","path":"/dev/a"}]})"),
            "linux.devices[0].type: must be one of c, b, u, p");
  EXPECT_EQ(bad(R"("process":{"args":["sh"]},"linux":{"devices":[{"type":"c","path":"/"}]})"),
            "linux.devices[0].path: must be absolute");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"devices":[{"type":"c","path":"/dev/a",
      "major":4096}]})"),
            "(parsed)");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"devices":[{"type":"c","path":"/dev/a",
      "file_mode":8192}]})"),
            "(parsed)");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"rootfs_propagation":"rwhatever"})"),
            "(parsed)");
  EXPECT_NE(
      bad(R"("process":{"args":["sh"]},"linux":{"hugepage_limits":[{"page_size":"../x","limit":1}]})"),
      "(parsed)");
  EXPECT_EQ(bad(R"("process":{"args":["sh"]},"linux":{"memory_limit":0})"),
            "linux.memory_limit: must be positive");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"memory_limit":-1})"), "(parsed)");
  EXPECT_EQ(bad(R"("process":{"args":["sh"]},"linux":{"cpu_period":999})"),
            "linux.cpu_period: must be between 1000 and 1000000");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"cpu_period":1000001})"), "(parsed)");
  EXPECT_EQ(bad(R"("process":{"args":["sh"]},"linux":{"cpu_weight":0})"),
            "linux.cpu_weight: must be between 1 and 10000");
  EXPECT_NE(bad(R"("process":{"args":["sh"]},"linux":{"cpu_weight":10001})"), "(parsed)");
  EXPECT_NE(
      bad(R"("process":{"args":["sh"],"io_priority":{"class":"IOPRIO_CLASS_BE","priority":8}})"),
      "(parsed)");
  EXPECT_NE(bad(R"("process":{"args":["sh"],"scheduler":{"policy":"SCHED_OTHER","nice":20}})"),
            "(parsed)");
}

TEST(LinuxSpec, HugepageSizes) {
  EXPECT_TRUE(valid_hugepage_size("2MB"));
  EXPECT_TRUE(valid_hugepage_size("1GB"));
  EXPECT_TRUE(valid_hugepage_size("64KB"));
  for (const char* bad : {"", "MB", "2M", "02MB", "2mb", "2MB/", "../MB", "2 MB", "-2MB"})
    EXPECT_FALSE(valid_hugepage_size(bad)) << bad;
}

}  // namespace
}  // namespace runvm::proto
