// ExecSessions on an event loop, against a fake agent on a socketpair and
// fake `runvm exec` clients on socketpairs.
#include "shim/container/exec_sessions.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

namespace runvm {
namespace {

class ExecSessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    agent_.reset(sv[1]);
    client_ = std::make_unique<AgentClient>(UniqueFd(sv[0]));
    loop_ = *EventLoop::create();
    send(proto::Hello{proto::kProtocolVersion, "fake", 1, "k"});
    ASSERT_TRUE(client_->attach(*loop_).ok());
    client_->set_exit_handlers("c",
                               {nullptr, [this](const proto::ExecExit& e) { execs_->on_exit(e); }});
    execs_ = std::make_unique<ExecSessions>(*loop_, *client_, "c");
  }
  void TearDown() override { execs_.reset(); }

  template <class M>
  void send(const M& m) {
    ASSERT_TRUE(proto::write_frame(agent_.get(), proto::to_json(m)).ok());
  }
  proto::HostMessage next_request() {
    auto frame = proto::read_frame(agent_.get());
    EXPECT_TRUE(frame.ok() && *frame);
    return *proto::parse_host_message(**frame);
  }
  // A client's end of a new exec connection.
  UniqueFd open(std::vector<std::string> args) {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    control::Exec e;
    e.process.args = std::move(args);
    execs_->open(UniqueFd(sv[1]), e);
    return UniqueFd(sv[0]);
  }
  // The next frame the shim sent on `conn`, running the loop meanwhile.
  std::optional<std::string> next_frame(int conn) {
    proto::FrameDecoder& d = decoders_[conn];
    for (int i = 0; i < 200; ++i) {
      auto f = d.next();
      if (f.ok() && *f) return **f;
      char buf[4096];
      ssize_t n = read(conn, buf, sizeof buf);
      if (n > 0) {
        EXPECT_TRUE(d.feed(std::string_view(buf, static_cast<size_t>(n))).ok());
        continue;
      }
      EXPECT_TRUE(loop_->run_once(10).ok());
    }
    return std::nullopt;
  }

  UniqueFd agent_;
  std::unique_ptr<AgentClient> client_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<ExecSessions> execs_;
  std::map<int, proto::FrameDecoder> decoders_;
};

TEST_F(ExecSessionsTest, ReplyThenFollowUpsThenExit) {
  UniqueFd conn = open({"sh"});
  auto req = next_request();
  auto& exec = std::get<proto::Exec>(req);
  EXPECT_EQ(exec.container_id, "c");
  EXPECT_EQ(exec.exec_id, "exec-1");
  send(proto::Ok{exec.id});
  auto reply = next_frame(conn.get());
  ASSERT_TRUE(reply);
  EXPECT_TRUE(control::parse_exec_reply(*reply)->status.ok());
  ASSERT_TRUE(proto::write_frame(conn.get(), control::encode(control::Kill{15, false})).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(loop_->run_once(10).ok());
  auto sig = next_request();
  ASSERT_TRUE(std::holds_alternative<proto::Signal>(sig));
  EXPECT_EQ(std::get<proto::Signal>(sig).exec_id, "exec-1");
  EXPECT_EQ(std::get<proto::Signal>(sig).signal, 15u);
  send(proto::ExecExit{"c", "exec-1", 15});
  auto exit = next_frame(conn.get());
  ASSERT_TRUE(exit);
  EXPECT_EQ(control::parse_exec_exit(*exit)->wait_status, 15);
  EXPECT_EQ(execs_->size(), 0u);
}

TEST_F(ExecSessionsTest, RefusalCarriesTheAgentsExitCode) {
  UniqueFd conn = open({"/no/such"});
  auto req = next_request();
  send(proto::ErrorReply{std::get<proto::Exec>(req).id, "exec: \"/no/such\": stat", 127});
  auto reply = next_frame(conn.get());
  ASSERT_TRUE(reply);
  auto parsed = control::parse_exec_reply(*reply);
  ASSERT_TRUE(parsed.ok());
  ASSERT_FALSE(parsed->status.ok());
  EXPECT_EQ(parsed->status.error().message,
            "unable to start container process: exec: \"/no/such\": stat");
  EXPECT_EQ(parsed->exit_code, 127);
  EXPECT_EQ(execs_->size(), 0u);
}

TEST_F(ExecSessionsTest, SetUpsOverlapAndAnExitBeforeItsReplyWaitsForIt) {
  UniqueFd slow = open({"slow"});
  UniqueFd quick = open({"quick"});
  auto slow_req = next_request(), quick_req = next_request();
  // The quick one is set up, runs and is reaped while the slow one is not.
  send(proto::ExecExit{"c", "exec-2", 0});
  send(proto::Ok{std::get<proto::Exec>(quick_req).id});
  auto reply = next_frame(quick.get());
  ASSERT_TRUE(reply);
  EXPECT_TRUE(control::parse_exec_reply(*reply)->status.ok());
  auto exit = next_frame(quick.get());
  ASSERT_TRUE(exit);
  EXPECT_EQ(control::parse_exec_exit(*exit)->wait_status, 0);
  EXPECT_EQ(execs_->size(), 1u);
  // The container ends with the slow one still being set up.
  execs_->end_all(SIGKILL);
  auto refused = next_frame(slow.get());
  ASSERT_TRUE(refused);
  auto parsed = control::parse_exec_reply(*refused);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->status.error().message, "cannot exec in a stopped container");
  // Its late reply finds no session.
  send(proto::Ok{std::get<proto::Exec>(slow_req).id});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(loop_->run_once(10).ok());
  EXPECT_EQ(execs_->size(), 0u);
}

TEST_F(ExecSessionsTest, ClientThatLeavesAbandonsTheProcess) {
  UniqueFd conn = open({"sh"});
  auto req = next_request();
  send(proto::Ok{std::get<proto::Exec>(req).id});
  ASSERT_TRUE(next_frame(conn.get()));
  conn.reset();
  for (int i = 0; i < 20 && execs_->size(); ++i) ASSERT_TRUE(loop_->run_once(10).ok());
  EXPECT_EQ(execs_->size(), 0u);
}

}  // namespace
}  // namespace runvm
