#include "shim/container/control_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "guest/protocol/frame.h"
#include "spec/base/unix_socket.h"

namespace runvm {
namespace {

using namespace std::chrono_literals;

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mkdtemp(dir_));
    loop_ = *EventLoop::create();
  }
  void TearDown() override {
    server_.reset();
    rmdir(dir_);
  }
  std::string path() const { return std::string(dir_) + "/shim.sock"; }
  void listen(std::chrono::milliseconds timeout = ControlServer::kRequestTimeout) {
    auto s = ControlServer::listen(
        *loop_, path(),
        [this](control::Addressed req, UniqueFd conn) {
          got_.push_back(std::move(req));
          conns_.push_back(std::move(conn));
        },
        timeout);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(*s);
  }
  UniqueFd connect() {
    auto c = connect_unix(path());
    EXPECT_TRUE(c.ok());
    return c.ok() ? std::move(*c) : UniqueFd();
  }
  void run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 200 && !done(); ++i) ASSERT_TRUE(loop_->run_once(10).ok());
  }
  // EOF within a second.
  static bool hung_up(int fd) {
    pollfd p{fd, POLLIN, 0};
    char c;
    return poll(&p, 1, 1000) == 1 && read(fd, &c, 1) == 0;
  }

  char dir_[40] = "/tmp/runvm-control-server-test-XXXXXX";
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<ControlServer> server_;
  std::vector<control::Addressed> got_;
  std::vector<UniqueFd> conns_;
};

TEST_F(ControlServerTest, SilentAndSlowClientsBlockNobody) {
  listen();
  UniqueFd silent = connect();
  UniqueFd slow = connect();
  std::string frame =
      *proto::encode_frame(control::encode(control::Addressed{"c", control::Pause{}}));
  ASSERT_EQ(write(slow.get(), frame.data(), 3), 3);  // part of the header only
  UniqueFd prompt = connect();
  std::string kill =
      *proto::encode_frame(control::encode(control::Addressed{"c", control::Kill{9, false}}));
  ASSERT_EQ(write(prompt.get(), kill.data(), kill.size()), static_cast<ssize_t>(kill.size()));
  run_until([&] { return got_.size() == 1; });
  ASSERT_EQ(got_.size(), 1u);
  EXPECT_EQ(got_[0], (control::Addressed{"c", control::Kill{9, false}}));
  EXPECT_EQ(server_->clients(), 2u);
  // The slow one, byte by byte.
  for (size_t i = 3; i < frame.size(); ++i) {
    ASSERT_EQ(write(slow.get(), frame.data() + i, 1), 1);
    ASSERT_TRUE(loop_->run_once(0).ok());
  }
  run_until([&] { return got_.size() == 2; });
  ASSERT_EQ(got_.size(), 2u);
  EXPECT_EQ(got_[1], (control::Addressed{"c", control::Pause{}}));
  EXPECT_EQ(server_->clients(), 1u);  // the silent one
}

TEST_F(ControlServerTest, SilentClientsAreDroppedAfterTheTimeout) {
  listen(50ms);
  UniqueFd silent = connect();
  run_until([&] { return server_->clients() == 1; });
  run_until([&] { return server_->clients() == 0; });
  EXPECT_EQ(server_->clients(), 0u);
  EXPECT_TRUE(hung_up(silent.get()));
}

TEST_F(ControlServerTest, ClientsAreBounded) {
  listen();
  std::vector<UniqueFd> silent;
  for (size_t i = 0; i < ControlServer::kMaxClients; ++i) {
    silent.push_back(connect());
    ASSERT_TRUE(loop_->run_once(0).ok());  // accepted: the backlog stays short
  }
  run_until([&] { return server_->clients() == ControlServer::kMaxClients; });
  UniqueFd extra = connect();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(loop_->run_once(10).ok());
  EXPECT_EQ(server_->clients(), ControlServer::kMaxClients);
  EXPECT_TRUE(hung_up(extra.get()));
  // Once one leaves, there is room again.
  silent.pop_back();
  run_until([&] { return server_->clients() < ControlServer::kMaxClients; });
  UniqueFd next = connect();
  std::string f = *proto::encode_frame(control::encode(control::Addressed{"c", control::Start{}}));
  ASSERT_EQ(write(next.get(), f.data(), f.size()), static_cast<ssize_t>(f.size()));
  run_until([&] { return got_.size() == 1; });
  EXPECT_EQ(got_.size(), 1u);
}

TEST_F(ControlServerTest, HostileRequestsAreAnsweredAndClosed) {
  listen();
  for (std::string body : {std::string("{"), std::string(R"({"op":"kill","signal":9})"),
                           std::string(R"({"op":"start","container_id":"../x"})")}) {
    UniqueFd c = connect();
    std::string f = *proto::encode_frame(body);
    ASSERT_EQ(write(c.get(), f.data(), f.size()), static_cast<ssize_t>(f.size()));
    run_until([&] {
      pollfd p{c.get(), POLLIN, 0};
      return poll(&p, 1, 0) == 1;
    });
    auto reply = proto::read_frame(c.get());
    ASSERT_TRUE(reply.ok() && *reply) << body;
    auto parsed = control::parse_reply(**reply);
    ASSERT_TRUE(parsed.ok());
    EXPECT_FALSE(parsed->status.ok()) << body;
  }
  // A header announcing more than a frame may hold.
  UniqueFd big = connect();
  ASSERT_EQ(write(big.get(), "\x7f\xff\xff\xff", 4), 4);
  run_until([&] {
    pollfd p{big.get(), POLLIN, 0};
    return poll(&p, 1, 0) == 1;
  });
  EXPECT_EQ(server_->clients(), 0u);
  EXPECT_TRUE(got_.empty());
}

}  // namespace
}  // namespace runvm
