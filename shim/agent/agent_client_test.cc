// AgentClient against a fake agent: the other end of a socketpair, written
// and read by the test itself.
#include "shim/agent/agent_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "guest/protocol/frame.h"

namespace runvm {
namespace {

using Reply = AgentClient::Reply;

class AgentClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    client_ = std::make_unique<AgentClient>(UniqueFd(sv[0]));
    agent_.reset(sv[1]);
    loop_ = *EventLoop::create();
  }

  void hello() { send(proto::Hello{proto::kProtocolVersion, "fake", 1, "k"}); }
  template <class M>
  void send(const M& m) {
    ASSERT_TRUE(proto::write_frame(agent_.get(), proto::to_json(m)).ok());
  }
  void send_raw(std::string_view bytes) {
    ASSERT_EQ(write(agent_.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  // The next request the client sent.
  proto::HostMessage next_request() {
    auto frame = proto::read_frame(agent_.get());
    EXPECT_TRUE(frame.ok() && *frame);
    auto msg = proto::parse_host_message(**frame);
    EXPECT_TRUE(msg.ok()) << msg.error().message;
    return *msg;
  }
  static uint64_t id_of(const proto::HostMessage& m) {
    return std::visit([](const auto& r) { return r.id; }, m);
  }
  void attach() {
    ASSERT_TRUE(client_->attach(*loop_, [this](const Error& e) { broken_.push_back(e); }).ok());
  }
  // Runs the loop until `done` or a second passed.
  void run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 100 && !done(); ++i) ASSERT_TRUE(loop_->run_once(10).ok());
  }
  AgentClient::Done record(std::vector<Reply>& into) {
    return [&into](Reply r) { into.push_back(std::move(r)); };
  }

  std::unique_ptr<AgentClient> client_;
  UniqueFd agent_;
  std::unique_ptr<EventLoop> loop_;
  std::vector<Error> broken_;
};

TEST_F(AgentClientTest, RepliesCompleteTheirRequestsInAnyOrder) {
  hello();
  attach();
  std::vector<std::pair<std::string, Reply>> done;
  client_->start("a", [&](Reply r) { done.emplace_back("start", std::move(r)); });
  client_->signal("b", "", 15, false, [&](Reply r) { done.emplace_back("signal", std::move(r)); });
  client_->request(proto::Ping{}, [&](Reply r) { done.emplace_back("ping", std::move(r)); });
  auto start = next_request(), sig = next_request(), ping = next_request();
  ASSERT_TRUE(std::holds_alternative<proto::Start>(start));
  ASSERT_TRUE(std::holds_alternative<proto::Signal>(sig));
  EXPECT_EQ(std::get<proto::Signal>(sig).container_id, "b");
  EXPECT_NE(id_of(start), id_of(sig));
  send(proto::Pong{id_of(ping)});
  send(proto::ErrorReply{id_of(sig), "no such process", std::nullopt});
  send(proto::Ok{id_of(start)});
  run_until([&] { return done.size() == 3; });
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].first, "ping");
  EXPECT_TRUE(done[0].second.status.ok());
  EXPECT_EQ(done[1].first, "signal");
  ASSERT_FALSE(done[1].second.status.ok());
  EXPECT_EQ(done[1].second.status.error().message, "agent: no such process");
  EXPECT_EQ(done[2].first, "start");
  EXPECT_TRUE(done[2].second.status.ok());
  EXPECT_EQ(client_->pending(), 0u);
}

TEST_F(AgentClientTest, RefusedExecCarriesTheAgentsExitCodeAsIs) {
  hello();
  attach();
  std::vector<Reply> done;
  proto::Exec exec;
  exec.container_id = "a";
  exec.exec_id = "e1";
  exec.process.args = {"/no/such"};
  client_->exec(exec, record(done));
  auto req = next_request();
  send(proto::ErrorReply{id_of(req), "exec: \"/no/such\": stat /no/such: no such file", 127});
  run_until([&] { return !done.empty(); });
  ASSERT_EQ(done.size(), 1u);
  ASSERT_FALSE(done[0].status.ok());
  EXPECT_EQ(done[0].status.error().message, "exec: \"/no/such\": stat /no/such: no such file");
  EXPECT_EQ(done[0].status.error().code, 0);  // no errno detour
  EXPECT_EQ(done[0].exit_code, 127u);
}

TEST_F(AgentClientTest, StatsRepliesCarryTheNumbersAndOnlyStatsAnswersStats) {
  hello();
  attach();
  std::vector<Reply> done;
  client_->request(proto::StatsRequest{0, "a"}, record(done));
  client_->request(proto::StatsRequest{0, "a"}, record(done));
  client_->start("a", record(done));
  auto first = next_request(), second = next_request(), start = next_request();
  proto::ContainerStats s;
  s.id = id_of(first);
  s.memory_usage = 50ull << 20;
  send(s);
  send(proto::Ok{id_of(second)});  // not a stats reply
  s.id = id_of(start);
  send(s);  // a stats reply for a start
  run_until([&] { return done.size() == 3; });
  ASSERT_EQ(done.size(), 3u);
  ASSERT_TRUE(done[0].status.ok());
  ASSERT_TRUE(done[0].stats);
  EXPECT_EQ(done[0].stats->memory_usage, 50ull << 20);
  EXPECT_EQ(done[1].status.error().message, "agent: unexpected message \"ok\"");
  EXPECT_FALSE(done[1].stats);
  EXPECT_EQ(done[2].status.error().message, "agent: unexpected message \"stats\"");
  EXPECT_FALSE(done[2].stats);
}

TEST_F(AgentClientTest, OomEventsGoToTheirContainersHandler) {
  hello();
  attach();
  std::vector<uint64_t> ooms;
  client_->set_exit_handlers("a",
                             {{}, {}, [&](const proto::Oom& o) { ooms.push_back(o.oom_kills); }});
  send(proto::Oom{"b", 1});  // no handler: dropped
  send(proto::Oom{"a", 2});
  run_until([&] { return !ooms.empty(); });
  EXPECT_EQ(ooms, std::vector<uint64_t>{2});
  EXPECT_TRUE(broken_.empty());
}

TEST_F(AgentClientTest, ExitsGoToTheirContainersHandlers) {
  hello();
  attach();
  std::vector<std::string> seen;
  for (std::string id : {"a", "b"})
    client_->set_exit_handlers(
        id, {[&seen, id](const proto::Exit& e) {
               seen.push_back(id + " exit " + e.container_id + " " + std::to_string(e.status));
             },
             [&seen, id](const proto::ExecExit& e) {
               seen.push_back(id + " exec_exit " + e.exec_id + " " + std::to_string(e.status));
             }});
  send(proto::Exit{"b", 256});
  send(proto::ExecExit{"a", "e1", 9});
  send(proto::Exit{"nobody", 0});  // no handler: dropped
  send(proto::Exit{"a", 0});
  run_until([&] { return seen.size() == 3; });
  EXPECT_EQ(seen, (std::vector<std::string>{"b exit b 256", "a exec_exit e1 9", "a exit a 0"}));
  client_->remove_exit_handlers("a");
  send(proto::Exit{"a", 0});
  ASSERT_TRUE(loop_->run_once(50).ok());
  EXPECT_EQ(seen.size(), 3u);
}

TEST_F(AgentClientTest, UnknownIdsAndMismatchedRepliesAreNotTrusted) {
  hello();
  attach();
  std::vector<Reply> done;
  client_->start("a", record(done));
  auto req = next_request();
  send(proto::Ok{id_of(req) + 1000});  // for no pending request: dropped
  send(proto::Ok{0});
  ASSERT_TRUE(loop_->run_once(50).ok());
  EXPECT_TRUE(done.empty());
  EXPECT_EQ(client_->pending(), 1u);
  send(proto::Pong{id_of(req)});  // its id, the wrong type
  run_until([&] { return !done.empty(); });
  ASSERT_EQ(done.size(), 1u);
  ASSERT_FALSE(done[0].status.ok());
  EXPECT_EQ(done[0].status.error().message, "agent: unexpected message \"pong\"");
  EXPECT_FALSE(client_->broken());
}

TEST_F(AgentClientTest, HostileFramesNeverCrashAndAreDropped) {
  hello();
  attach();
  std::vector<Reply> done;
  client_->start("a", record(done));
  auto req = next_request();
  for (std::string_view body :
       {"", "{", "[]", "null", "{\"type\":7}", "{\"type\":\"ok\"}", "{\"type\":\"ok\",\"id\":-1}",
        "{\"type\":\"exit\",\"container_id\":\"../x\",\"status\":1}",
        "{\"type\":\"error\",\"id\":1,\"message\":5}", "{\"type\":\"nope\",\"id\":1}"}) {
    auto frame = proto::encode_frame(body);
    ASSERT_TRUE(frame.ok());
    send_raw(*frame);
  }
  send(proto::ErrorReply{id_of(req), std::string("bad\x01\x7f\n"), std::nullopt});
  run_until([&] { return !done.empty(); });
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status.error().message, "agent: bad???");  // printable only
  EXPECT_FALSE(client_->broken());
  // A length no frame may have: the stream cannot be trusted any further.
  client_->start("a", record(done));
  send_raw(std::string("\xff\xff\xff\xff", 4));
  run_until([&] { return done.size() == 2; });
  ASSERT_EQ(done.size(), 2u);
  EXPECT_FALSE(done[1].status.ok());
  EXPECT_TRUE(client_->broken());
  EXPECT_EQ(broken_.size(), 1u);
}

TEST_F(AgentClientTest, MessagesBeforeHelloFailTheChannel) {
  attach();
  std::vector<Reply> done;
  client_->start("a", record(done));
  send(proto::Ok{1});
  run_until([&] { return !done.empty(); });
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status.error().message, "agent: expected hello first");
}

TEST_F(AgentClientTest, EndOfStreamFailsEveryPendingRequestOnce) {
  hello();
  attach();
  std::vector<Reply> done;
  client_->start("a", record(done));
  client_->start("b", record(done));
  agent_.reset();
  run_until([&] { return done.size() == 2; });
  ASSERT_EQ(done.size(), 2u);
  for (const auto& r : done) EXPECT_EQ(r.status.error().message, "agent closed the connection");
  ASSERT_EQ(broken_.size(), 1u);
  // Later requests fail at once, with the same error.
  client_->start("c", record(done));
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[2].status.error().message, "agent closed the connection");
  EXPECT_EQ(broken_.size(), 1u);
}

TEST_F(AgentClientTest, VmExitFailsPendingRequests) {
  hello();
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  UniqueFd abort_r(p[0]), abort_w(p[1]);
  client_->set_abort_fd(abort_r.get());
  attach();
  std::vector<Reply> done;
  client_->start("a", record(done));
  ASSERT_EQ(write(abort_w.get(), "x", 1), 1);  // as a pidfd once the VM died
  run_until([&] { return !done.empty(); });
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status.error().message, "VM exited before the agent answered");
  EXPECT_EQ(broken_.size(), 1u);
}

TEST_F(AgentClientTest, UnansweredRequestTimesOutAlone) {
  hello();
  client_->set_timeout_ms(50);
  attach();
  std::vector<Reply> done;
  client_->start("a", record(done));
  run_until([&] { return !done.empty(); });
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status.error().code, ETIMEDOUT);
  EXPECT_FALSE(client_->broken());  // a late reply is dropped, the channel lives on
  auto req = next_request();
  send(proto::Ok{id_of(req)});
  ASSERT_TRUE(loop_->run_once(50).ok());
  EXPECT_EQ(done.size(), 1u);
}

TEST_F(AgentClientTest, BlockingCallsWithoutALoopOnly) {
  hello();
  std::vector<std::string> exits;
  client_->set_exit_handlers("a", {[&](const proto::Exit& e) { exits.push_back(e.container_id); }});
  std::thread fake([&] {
    auto req = next_request();
    send(proto::Exit{"a", 0});  // meanwhile: to its handler, as on a loop
    send(proto::Pong{id_of(req)});
  });
  auto hello = client_->wait_hello(1000);
  ASSERT_TRUE(hello.ok()) << hello.error().message;
  EXPECT_EQ(hello->agent, "fake");
  EXPECT_TRUE(client_->ping().ok());
  fake.join();
  EXPECT_EQ(exits, std::vector<std::string>{"a"});
  attach();
  EXPECT_FALSE(client_->ping().ok());
  client_->detach();
}

TEST_F(AgentClientTest, RequestsSentBeforeTheHelloAreAnsweredAfterIt) {
  // Pipelined: written before the agent said hello, in order.
  auto first = client_->send(proto::Ping{});
  auto second = client_->send(proto::Start{0, "a"});
  EXPECT_FALSE(*first);
  std::thread fake([&] {
    auto ping = next_request();
    auto start = next_request();
    EXPECT_TRUE(std::holds_alternative<proto::Ping>(ping));
    EXPECT_TRUE(std::holds_alternative<proto::Start>(start));
    hello();
    send(proto::ErrorReply{id_of(start), "no such container"});
    send(proto::Pong{id_of(ping)});
  });
  auto hello = client_->wait_hello(1000);
  ASSERT_TRUE(hello.ok()) << hello.error().message;
  Reply start = client_->await(second);
  Reply ping = client_->await(first);
  fake.join();
  EXPECT_TRUE(ping.status.ok());
  ASSERT_FALSE(start.status.ok());
  EXPECT_EQ(start.status.error().message, "agent: no such container");
  EXPECT_EQ(client_->pending(), 0u);
}

TEST_F(AgentClientTest, ARequestSentBeforeTheHelloFailsWithTheChannel) {
  auto sent = client_->send(proto::Ping{});
  agent_.reset();  // the VM died before its agent said hello
  EXPECT_FALSE(client_->wait_hello(1000).ok());
  Reply r = client_->await(sent);
  EXPECT_FALSE(r.status.ok());
}

TEST_F(AgentClientTest, SignalOutOfRangeIsRefusedLocally) {
  hello();
  attach();
  std::vector<Reply> done;
  client_->signal("a", "", 65, false, record(done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status.error().code, EINVAL);
  EXPECT_EQ(client_->pending(), 0u);
}

}  // namespace
}  // namespace runvm
