#include "guest/protocol/exec_messages.h"

#include <gtest/gtest.h>

#include "guest/protocol/messages.h"

namespace runvm::proto {
namespace {

template <class V>
std::string error_of(const Result<V>& r) {
  return r.ok() ? std::string("<ok>") : r.error().message;
}

TEST(ExecMessages, RoundTrip) {
  Exec e;
  e.id = 9;
  e.container_id = "web";
  e.exec_id = "exec-1";
  e.process.terminal = true;
  e.process.args = {"sh", "-c", "echo $FOO"};
  e.process.env = {"FOO=bar"};
  e.process.cwd = "/tmp";
  e.process.user = {1, 2, 0022, {3}};
  e.process.console_size = ConsoleSize{30, 100};
  e.stdio = {7001, 7002, 0};
  Signal s{3, "web", 15, false};
  s.exec_id = "exec-1";
  Resize r{4, "web", 40, 120};
  r.exec_id = "exec-1";
  for (const HostMessage& m : {HostMessage(e), HostMessage(s), HostMessage(r)}) {
    auto back = parse_host_message(to_json(m));
    ASSERT_TRUE(back.ok()) << error_of(back) << to_json(m);
    EXPECT_EQ(*back, m) << to_json(m);
  }
  AgentMessage exit = ExecExit{"web", "exec-1", 5 << 8};
  auto back = parse_agent_message(to_json(exit));
  ASSERT_TRUE(back.ok()) << error_of(back);
  EXPECT_EQ(*back, exit);
  EXPECT_EQ(to_json(std::get<ExecExit>(exit)),
            R"({"type":"exec_exit","container_id":"web","exec_id":"exec-1","status":1280})");
}

TEST(ExecMessages, SignalWithoutExecIdTargetsTheMainProcess) {
  auto m = parse_host_message(R"({"type":"signal","id":1,"container_id":"c","signal":9})");
  ASSERT_TRUE(m.ok()) << error_of(m);
  EXPECT_EQ(std::get<Signal>(*m).exec_id, "");
  EXPECT_EQ(to_json(std::get<Signal>(*m)),
            R"({"type":"signal","id":1,"container_id":"c","signal":9,"all":false})");
}

TEST(ExecMessages, HostileExecsNameThePath) {
  const std::string head = R"({"type":"exec","id":1,"container_id":"c",)";
  struct Case {
    std::string body, error;
  } cases[] = {
      {head + R"("process":{"args":["a"]}})", "exec_id: is required"},
      {head + R"("exec_id":"../e","process":{"args":["a"]}})",
       "exec_id: must match [A-Za-z0-9_+.-]+ (at most 256)"},
      {head + R"("exec_id":"e"})", "process: is required"},
      {head + R"("exec_id":"e","process":{"args":[]}})", "process.args: must not be empty"},
      {head + R"("exec_id":"e","process":{"args":["a"]},"stdio":{"stdout_port":-1}})",
       "stdio.stdout_port: must be a non-negative integer"},
      {R"({"type":"signal","id":1,"container_id":"c","signal":9,"exec_id":""})",
       "exec_id: must match [A-Za-z0-9_+.-]+ (at most 256)"},
      {R"({"type":"resize","id":1,"container_id":"c","rows":1,"cols":1,"exec_id":7})",
       "exec_id: must be a string"},
  };
  for (const auto& c : cases) EXPECT_EQ(error_of(parse_host_message(c.body)), c.error) << c.body;
  EXPECT_EQ(error_of(parse_agent_message(
                R"({"type":"exec_exit","container_id":"c","exec_id":"e","status":65536})")),
            "status: must be at most 65535");
  EXPECT_EQ(error_of(parse_agent_message(R"({"type":"exec_exit","container_id":"c","status":0})")),
            "exec_id: is required");
}

}  // namespace
}  // namespace runvm::proto
