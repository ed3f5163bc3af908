#include "shim/client/control.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "guest/protocol/frame.h"
#include "spec/base/unix_socket.h"
#include "tests/support/temp_dir.h"

namespace runvm::control {
namespace {

Request round_trip(const Request& r) {
  auto back = parse_request(encode(Addressed{"c1", r}));
  EXPECT_TRUE(back.ok()) << back.error().message;
  if (back.ok()) {
    EXPECT_EQ(back->container_id, "c1");
  }
  return back.ok() ? back->request : Request{};
}

TEST(Control, CreateNeedsAbsolutePaths) {
  for (const char* json :
       {R"({"op":"create","container_id":"c2","bundle":"b","state_dir":"/s","stdio":{}})",
        R"({"op":"create","container_id":"c2","bundle":"/b","state_dir":"","stdio":{}})",
        R"({"op":"create","container_id":"c2","bundle":"/b","stdio":{}})",
        R"({"op":"create","container_id":"c2","bundle":"/b","state_dir":"/s"})"})
    EXPECT_FALSE(parse_request(json).ok()) << json;
  auto ok = parse_request(
      R"({"op":"create","container_id":"c2","bundle":"/b","state_dir":"/s","stdio":{}})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(std::get<Create>(ok->request).bundle, "/b");
  EXPECT_FALSE(std::get<Create>(ok->request).start);
  // "start" is a bool when present.
  EXPECT_FALSE(parse_request(R"({"op":"create","container_id":"c2","bundle":"/b",)"
                             R"("state_dir":"/s","stdio":{},"start":1})")
                   .ok());
}

Request parsed(std::string_view json) {
  auto r = parse_request(json);
  return r.ok() ? r->request : Request{Resume{}};
}

TEST(Control, EveryRequestRoundTrips) {
  Exec exec;
  exec.process.args = {"sh", "-c", "echo $FOO"};
  exec.process.env = {"FOO=bar"};
  exec.process.cwd = "/w";
  exec.stdio = {70001, 70002, 70003};
  for (const Request& r :
       {Request(Start{}), Request(Kill{9, true}), Request(Kill{64, false}), Request(Pause{}),
        Request(Resume{}), Request(Resize{40, 120}), Request(Resize{0xffff, 0}), Request(exec),
        Request(Create{"/b/c2", "/run/runvm/c2", {70001, 70002, 0}}),
        Request(Create{"/b/c2", "/run/runvm/c2", {70001, 70002, 0}, true}),
        Request(UpdateMemory{256ull << 20}), Request(UpdateMemory{1ull << 50}),
        Request(UpdateResources{50000, 100000, 512, 50, "0-1"}),
        Request(UpdateResources{-1, std::nullopt, std::nullopt, -1, ""}),
        Request(UpdateResources{std::nullopt, std::nullopt, std::nullopt, std::nullopt, "3"}),
        Request(Stats{})})
    EXPECT_EQ(round_trip(r), r) << encode(r);
}

TEST(Control, StatsReplyCarriesTheAgentsNumbers) {
  StatsReply r;
  r.stats.memory_usage = 50ull << 20;
  r.stats.memory_stat = {{"anon", 4096}};
  r.stats.hugetlb = {{"2MB", 0, 1}};
  r.stats.oom_kills = 1;
  auto back = parse_stats_reply(encode(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(back->status.ok());
  EXPECT_EQ(back->stats, r.stats);
  auto refused = parse_stats_reply(encode(StatsReply{make_error("agent: no cgroup"), {}}));
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status.error().message, "agent: no cgroup");
  // Hostile: no stats with ok, stats of the wrong shape, bad numbers.
  for (const char* json : {R"({"ok":true})", R"({"ok":true,"stats":[]})",
                           R"({"ok":true,"stats":{"memory":{"usage":-1}}})",
                           R"({"ok":true,"stats":{"memory":{"stat":{"A":1}}}})"})
    EXPECT_FALSE(parse_stats_reply(json).ok()) << json;
}

TEST(Control, WireNamesTheOp) {
  EXPECT_EQ(encode(Addressed{"web", Kill{15, false}}),
            R"({"op":"kill","container_id":"web","signal":15,"all":false})");
  EXPECT_EQ(encode(Addressed{"web", Start{}}), R"({"op":"start","container_id":"web"})");
  // Follow-ups on an exec's connection carry no container.
  EXPECT_EQ(encode(Kill{15, false}), R"({"op":"kill","signal":15,"all":false})");
  // "all" is optional, unknown fields are ignored.
  EXPECT_EQ(parsed(R"({"op":"kill","container_id":"a","signal":2,"x":1})"),
            Request(Kill{2, false}));
}

TEST(Control, HostileRequestsAreRefused) {
  for (const char* bad : {
           R"({"op":"kill","container_id":"c","signal":0})",
           R"({"op":"start"})",
           R"({"op":"start","container_id":""})",
           R"({"op":"start","container_id":"../x"})",
           R"({"op":"start","container_id":7})",
           R"({"op":"kill","container_id":"c","signal":65})",
           R"({"op":"kill","container_id":"c","signal":"TERM"})",
           R"({"op":"kill","container_id":"c","signal":9,"all":1})",
           R"({"op":"resize","container_id":"c","rows":70000,"cols":1})",
           R"({"op":"resize","container_id":"c","rows":-1,"cols":1})",
           R"({"op":"resize","container_id":"c","rows":1})",
           R"({"op":"exec"})",
           R"({"op":"exec","container_id":"c","process":{"args":["a"]}})",
           R"({"op":"exec","container_id":"c","process":{"args":[]},"stdio":{}})",
           R"({"op":"exec","container_id":"c","process":{"args":["a"]},"stdio":{"stdin_port":-4}})",
           R"({"op":"update_resources","container_id":"c"})",
           R"({"op":"update_resources","container_id":"c","cpu_quota":999})",
           R"({"op":"update_resources","container_id":"c","cpu_period":100})",
           R"({"op":"update_resources","container_id":"c","cpu_shares":1})",
           R"({"op":"update_resources","container_id":"c","pids_limit":4194305})",
           R"({"op":"update_resources","container_id":"c","cpus":"0;rm"})",
           R"({"op":"update_resources","container_id":"c","cpus":""})",
           R"({"op":"reboot"})",
           R"({"op":7})",
           R"({"signal":9})",
           "[1]",
           "{",
           "not json",
       })
    EXPECT_FALSE(parse_request(bad).ok()) << bad;
  auto unknown = parse_request(R"({"op":"re\u0001boot"})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "op: unknown request \"re?boot\"");
}

TEST(Control, ExecFollowUpsAreKillAndResizeOnly) {
  EXPECT_EQ(parse_exec_follow_up(encode(Kill{15, false})).value_or(Resize{}),
            ExecFollowUp(Kill{15, false}));
  EXPECT_EQ(parse_exec_follow_up(encode(Resize{24, 80})).value_or(Kill{}),
            ExecFollowUp(Resize{24, 80}));
  for (const Request& r : {Request(Start{}), Request(Pause{}), Request(Resume{})})
    EXPECT_FALSE(parse_exec_follow_up(encode(r)).ok()) << encode(r);
}

TEST(Control, ReplyCarriesError) {
  auto ok = parse_reply(encode(Reply{}));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->status.ok());
  auto s = parse_reply(encode(Reply{make_error("container not running")}));
  ASSERT_TRUE(s.ok());
  ASSERT_FALSE(s->status.ok());
  EXPECT_EQ(s->status.error().message, "container not running");
  auto bare = parse_reply(R"({"ok":false})");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->status.error().message, "shim refused the request");
  EXPECT_FALSE(parse_reply(R"({"ok":"yes"})").ok());
  EXPECT_FALSE(parse_reply("[]").ok());
}

TEST(Control, ExecReplyCarriesTheExitCode) {
  auto ok = parse_exec_reply(encode(ExecReply{}));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->status.ok());
  EXPECT_EQ(ok->exit_code, std::nullopt);
  auto refused = parse_exec_reply(encode(ExecReply{make_error("exec: \"nope\": not found"), 127}));
  ASSERT_TRUE(refused.ok());
  ASSERT_FALSE(refused->status.ok());
  EXPECT_EQ(refused->status.error().message, "exec: \"nope\": not found");
  EXPECT_EQ(refused->exit_code, 127);
  // A plain Reply (the shim could not even parse the exec) reads as one.
  auto plain = parse_exec_reply(encode(Reply{make_error("op: bad")}));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->status.error().message, "op: bad");
  EXPECT_EQ(plain->exit_code, std::nullopt);
  EXPECT_FALSE(parse_exec_reply(R"({"ok":false,"exit_code":256})").ok());
  EXPECT_FALSE(parse_exec_reply(R"({"ok":false,"exit_code":-1})").ok());
}

TEST(Control, ExecExit) {
  EXPECT_EQ(parse_exec_exit(encode(ExecExit{5 << 8})).value_or(ExecExit{-1}), ExecExit{5 << 8});
  EXPECT_FALSE(parse_exec_exit(R"({"exit_status":65536})").ok());
  EXPECT_FALSE(parse_exec_exit(R"({"exit_status":-1})").ok());
  EXPECT_FALSE(parse_exec_exit(R"({})").ok());
}

// The client against a scripted shim: one request, one frame back.
class ControlClient : public ::testing::Test {
 protected:
  std::string path() const { return dir_ / "shim.sock"; }
  // Serves one connection: checks the request and answers `reply`.
  std::thread serve_once(UniqueFd& listener, std::string reply, std::string* got) {
    return std::thread([&listener, reply, got] {
      UniqueFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      auto body = proto::read_frame(conn.get());
      if (body.ok() && *body) *got = **body;
      if (!reply.empty()) (void)proto::write_frame(conn.get(), reply);
    });
  }
  testing::TempDir dir_{"runvm-control-test"};
};

TEST_F(ControlClient, CallSendsAndReturnsTheVerdict) {
  auto listener = listen_unix(path(), {});
  ASSERT_TRUE(listener.ok());
  std::string got;
  auto t = serve_once(*listener, encode(Reply{make_error("container already started")}), &got);
  Status s = call(path(), "c1", Start{});
  t.join();
  EXPECT_EQ(got, encode(Addressed{"c1", Start{}}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "container already started");
}

TEST_F(ControlClient, OpenExecKeepsTheConnectionAndTheCode) {
  auto listener = listen_unix(path(), {});
  ASSERT_TRUE(listener.ok());
  std::string got;
  auto t = serve_once(*listener, encode(ExecReply{make_error("no such file"), 127}), &got);
  Exec e;
  e.process.args = {"/no/such"};
  auto s = open_exec(path(), "c1", e, 5000);
  t.join();
  EXPECT_EQ(parse_request(got).value_or(Addressed{}), (Addressed{"c1", e}));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->conn.valid());
  EXPECT_EQ(s->reply.exit_code, 127);
}

TEST_F(ControlClient, ErrorsNameTheShim) {
  Status none = call(path(), "c1", Pause{});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message.rfind("connect to the container's shim", 0), 0u)
      << none.error().message;
  auto listener = listen_unix(path(), {});
  ASSERT_TRUE(listener.ok());
  std::string got;
  auto t = serve_once(*listener, "", &got);  // hangs up without a reply
  Status closed = call(path(), "c1", Resume{});
  t.join();
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.error().message, "the container's shim closed the connection");
  EXPECT_FALSE(call(path(), "c1", Exec{}).ok());  // an exec goes through open_exec
}

}  // namespace
}  // namespace runvm::control
