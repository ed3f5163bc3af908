#include "guest/protocol/container_messages.h"

#include <gtest/gtest.h>

#include "guest/protocol/messages.h"

namespace runvm::proto {
namespace {

template <class V>
std::string error_of(const Result<V>& r) {
  return r.ok() ? std::string("<ok>") : r.error().message;
}

Create full_create() {
  Create c;
  c.id = 4;
  c.container_id = "web-1_a.b+c";
  c.rootfs = {"pod", true, "web-2"};
  c.hostname = "box";
  c.process.terminal = true;
  c.process.args = {"/bin/sh", "-c", "echo \"hi\"\n"};
  c.process.env = {"PATH=/bin", "A=b=c"};
  c.process.cwd = "/work";
  c.process.user = {1000, 1001, 0077, {5, 4294967295u}};
  c.process.rlimits = {{"RLIMIT_NOFILE", 1024, 4096}, {"RLIMIT_CORE", 0, UINT64_MAX}};
  c.process.no_new_privileges = true;
  c.process.console_size = ConsoleSize{24, 80};
  c.stdio = {5001, 5002, 0, StdioKind::kTty, StdioKind::kSocket, StdioKind::kAppendFile};
  c.ends_vm = true;
  return c;
}

TEST(ContainerMessages, RoundTrip) {
  HostMessage host[] = {full_create(),
                        Start{5, "c"},
                        Signal{6, "c", 9, true},
                        Resize{7, "c", 65535, 1},
                        UpdateMemory{8, "c", 256ull << 20, 512ull << 20},
                        UpdateMemory{9, "c", 0, 1ull << 20},
                        UpdateResources{10, "c", 50000, 100000, 100, 50},
                        UpdateResources{11, "c", -1, std::nullopt, std::nullopt, -1},
                        UpdateResources{12, "c", std::nullopt, std::nullopt, std::nullopt, 1},

                        Freeze{13, "c"},
                        Thaw{14, "c"}};
  for (const auto& m : host) {
    auto back = parse_host_message(to_json(m));
    ASSERT_TRUE(back.ok()) << error_of(back) << to_json(m);
    EXPECT_EQ(*back, m) << to_json(m);
  }
  AgentMessage agent[] = {Exit{"c", 0x8b}, Exit{"c", 0x9, 2},
                          ErrorReply{3, "exec: \"x\": nope", 127}};
  for (const auto& m : agent) {
    auto back = parse_agent_message(to_json(m));
    ASSERT_TRUE(back.ok()) << error_of(back);
    EXPECT_EQ(*back, m);
  }
}

TEST(ContainerMessages, UpdateResourcesChecksRanges) {
  auto parse = [](std::string_view members) {
    return error_of(
        parse_host_message(std::string(R"({"type":"update_resources","id":1,"container_id":"c")") +
                           std::string(members) + "}"));
  };
  EXPECT_EQ(parse(""), "update_resources: nothing to update");
  EXPECT_EQ(parse(R"(,"cpu_quota":999)"),
            "cpu_quota: must be at most 0 (no limit) or between 1000 and 2^40");
  EXPECT_EQ(parse(R"(,"cpu_quota":1099511627777)"),
            "cpu_quota: must be at most 0 (no limit) or between 1000 and 2^40");
  EXPECT_EQ(parse(R"(,"cpu_period":999)"), "cpu_period: must be between 1000 and 1000000");
  EXPECT_EQ(parse(R"(,"cpu_period":1000001)"), "cpu_period: must be at most 1000000");
  EXPECT_EQ(parse(R"(,"cpu_weight":0)"), "cpu_weight: must be between 1 and 10000");
  EXPECT_EQ(parse(R"(,"pids_limit":4194305)"), "pids_limit: must be at most 2^22");
  EXPECT_EQ(parse(R"(,"pids_limit":"5")").find("pids_limit"), 0u);
  // No limit is one value on the wire, however it was asked for.
  auto m = parse_host_message(
      R"({"type":"update_resources","id":1,"container_id":"c","cpu_quota":0,"pids_limit":-7})");
  ASSERT_TRUE(m.ok()) << error_of(m);
  EXPECT_EQ(std::get<UpdateResources>(*m).cpu_quota, -1);
  EXPECT_EQ(std::get<UpdateResources>(*m).pids_limit, -1);
}

TEST(ContainerMessages, MinimalCreateGetsDefaults) {
  auto m = parse_host_message(
      R"({"type":"create","id":1,"container_id":"c","rootfs":{"tag":"t"},"process":{"args":["sh"]}})");
  ASSERT_TRUE(m.ok()) << error_of(m);
  const auto& c = std::get<Create>(*m);
  EXPECT_FALSE(c.rootfs.readonly);
  EXPECT_EQ(c.process.cwd, "/");
  EXPECT_EQ(c.process.user.uid, 0u);
  EXPECT_EQ(c.process.user.umask, 0022u);
  EXPECT_FALSE(c.process.terminal);
  EXPECT_FALSE(c.process.console_size);
  EXPECT_EQ(c.stdio, StdioPorts{});
  EXPECT_FALSE(c.ends_vm);
  EXPECT_EQ(to_json(Exit{"c", 256}), R"({"type":"exit","container_id":"c","status":256})");
  EXPECT_EQ(to_json(Exit{"c", 9, 1}),
            R"({"type":"exit","container_id":"c","status":9,"oom_kills":1})");
}

TEST(ContainerMessages, HostileCreatesNameThePath) {
  const std::string head = R"({"type":"create","id":1,"container_id":"c","rootfs":{"tag":"t"},)";
  struct Case {
    std::string body, error;
  } cases[] = {
      {head + R"("process":{"args":[]}})", "process.args: must not be empty"},
      {head + R"("process":{"args":[""]}})", "process.args: must not be empty"},
      {head + R"("process":{"args":[1]}})", "process.args[0]: must be a string"},
      {head + R"("process":{"args":["a"],"cwd":"rel"}})", "process.cwd: must be absolute"},
      {head + R"("process":{"args":["a"],"user":{"uid":1,"gid":1,"umask":512}}})",
       "process.user.umask: must be at most 511"},
      {head + R"("process":{"args":["a"],"user":{"uid":4294967296,"gid":1}}})",
       "process.user.uid: must fit in 32 bits"},
      {head + R"("process":{"args":["a"],"user":{"uid":1,"gid":1,"additional_gids":[-1]}}})",
       "process.user.additional_gids[0]: must be a non-negative integer"},
      {head + R"("process":{"args":["a"],"rlimits":[{"type":"RLIMIT_NOFILE","soft":1}]}})",
       "process.rlimits[0].hard: is required"},
      {head + R"("process":{"args":["a"],"console_size":{"rows":65536,"cols":1}}})",
       "process.console_size.rows: must be at most 65535"},
      {head + R"("process":{"args":["a"]},"stdio":{"stdin_port":4294967296}})",
       "stdio.stdin_port: must be at most 4294967295"},
      {head + R"("process":{"args":["a"]},"stdio":{"stdout_port":1,"stdout_kind":"fifo"}})",
       "stdio.stdout_kind: must be pipe, socket, tty, file or append_file"},
      {head + R"("process":{"args":["a"]},"stdio":{"stderr_kind":3}})",
       "stdio.stderr_kind: must be a string"},
      {R"({"type":"create","id":1,"container_id":"../x","rootfs":{"tag":"t"},"process":{}})",
       "container_id: must match [A-Za-z0-9_+.-]+ (at most 256)"},
      {R"({"type":"create","id":1,"container_id":"c","rootfs":{"tag":""},"process":{}})",
       "rootfs.tag: must not be empty"},
      {R"({"type":"create","id":1,"container_id":"c","rootfs":{"tag":"t","path":".."},"process":{}})",
       "rootfs.path: must be one name ([A-Za-z0-9_+.-]+, not . or ..)"},
      {R"({"type":"create","id":1,"container_id":"c","rootfs":{"tag":"t","path":"a/b"},"process":{}})",
       "rootfs.path: must be one name ([A-Za-z0-9_+.-]+, not . or ..)"},
      {R"({"type":"signal","id":1,"container_id":"c","signal":0})", "signal: must be at least 1"},
      {R"({"type":"signal","id":1,"container_id":"c","signal":65})", "signal: must be at most 64"},
      {R"({"type":"resize","id":1,"container_id":"c","rows":1})", "cols: is required"},
  };
  for (const auto& c : cases) EXPECT_EQ(error_of(parse_host_message(c.body)), c.error) << c.body;
  EXPECT_EQ(error_of(parse_agent_message(R"({"type":"exit","container_id":"c","status":65536})")),
            "status: must be at most 65535");
  EXPECT_EQ(
      error_of(parse_agent_message(R"({"type":"error","id":1,"message":"m","exit_code":256})")),
      "exit_code: must be at most 255");
}

TEST(ContainerMessages, StdioKindsDefaultToPipes) {
  auto m = parse_host_message(
      R"({"type":"create","id":1,"container_id":"c","rootfs":{"tag":"t"},"process":{"args":["sh"]},)"
      R"("stdio":{"stdin_port":7,"stdout_port":8,"stdout_kind":"socket","stderr_kind":"tty"}})");
  ASSERT_TRUE(m.ok()) << error_of(m);
  const StdioPorts want{7, 8, 0, StdioKind::kPipe, StdioKind::kSocket, StdioKind::kTty};
  EXPECT_EQ(std::get<Create>(*m).stdio, want);
}

TEST(ContainerMessages, ContainerIds) {
  EXPECT_TRUE(valid_container_id("a"));
  EXPECT_TRUE(valid_container_id(std::string(256, 'x')));
  EXPECT_FALSE(valid_container_id(std::string(257, 'x')));
  for (const char* bad : {"", ".", "..", "a/b", "a b", "é"}) EXPECT_FALSE(valid_container_id(bad));
}

}  // namespace
}  // namespace runvm::proto
