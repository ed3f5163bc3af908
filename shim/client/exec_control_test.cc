#include "shim/client/exec_control.h"

#include <gtest/gtest.h>

namespace runvm::control {
namespace {

TEST(ExecControl, RequestRoundTrips) {
  ExecRequest r;
  r.process.args = {"sh", "-c", "echo $FOO"};
  r.process.env = {"FOO=bar"};
  r.process.cwd = "/w";
  r.stdio = {70001, 70002, 70003};
  auto back = parse_exec(encode_exec(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, r);
}

TEST(ExecControl, HostileRequestsAreRefused) {
  for (const char* bad :
       {R"({"op":"exec"})", R"({"op":"exec","process":{"args":["a"]}})",
        R"({"op":"exec","process":{"args":[]},"stdio":{}})",
        R"({"op":"exec","process":{"args":["a"]},"stdio":{"stdin_port":-4}})", "[1]", "{"})
    EXPECT_FALSE(parse_exec(bad).ok()) << bad;
}

TEST(ExecControl, RepliesAndExit) {
  auto ok = parse_exec_reply(encode_exec_reply({}, std::nullopt));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->status.ok());
  auto refused = parse_exec_reply(encode_exec_reply(make_error("exec: \"nope\": not found"), 127));
  ASSERT_TRUE(refused.ok());
  ASSERT_FALSE(refused->status.ok());
  EXPECT_EQ(refused->status.error().message, "exec: \"nope\": not found");
  EXPECT_EQ(refused->exit_code, 127);
  EXPECT_EQ(parse_exec_exit(encode_exec_exit(5 << 8)).value_or(-1), 5 << 8);
  EXPECT_FALSE(parse_exec_exit(R"({"exit_status":65536})").ok());
  EXPECT_FALSE(parse_exec_exit(R"({"exit_status":-1})").ok());
}

}  // namespace
}  // namespace runvm::control
