#include "guest/agent/agent.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <optional>
#include <random>
#include <thread>

#include "guest/protocol/constants.h"
#include "guest/protocol/frame.h"
#include "guest/test_agent/transfer.h"
#include "guest/test_agent/transfer_messages.h"
#include "guest/test_agent/transfer_stream.h"

namespace runvm::agent {
namespace {

using proto::AgentMessage;

std::pair<UniqueFd, UniqueFd> socket_pair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<UniqueFd> refuse_dial(uint32_t port) {
  return make_error("connection refused to " + std::to_string(port), ECONNREFUSED);
}

// Runs Agent::serve() on a thread; the test plays the host on the other end.
class Harness {
 public:
  explicit Harness(DialFn dial = refuse_dial, ExtensionFn extension = {},
                   std::function<void()> before_shutdown_ok = {}) {
    auto [h, g] = socket_pair();
    host_ = std::move(h);
    guest_ = std::move(g);
    AgentConfig config{std::move(dial), {}, std::move(extension)};
    config.before_shutdown_ok = std::move(before_shutdown_ok);
    auto agent = Agent::create(guest_.get(), std::move(config));
    EXPECT_TRUE(agent.ok());
    agent_ = std::move(*agent);
  }
  ~Harness() {
    host_.reset();
    if (thread_.joinable()) thread_.join();
  }

  Agent& agent() { return *agent_; }
  int host_fd() const { return host_.get(); }
  void start() {
    thread_ = std::thread([this] { outcome_.emplace(agent_->serve()); });
  }
  void send(std::string_view json) { ASSERT_TRUE(proto::write_frame(host_.get(), json).ok()); }
  void send_raw(std::string_view bytes) {
    ASSERT_TRUE(proto::write_all(host_.get(), bytes.data(), bytes.size()).ok());
  }
  std::string recv_frame() {
    auto frame = proto::read_frame(host_.get());
    EXPECT_TRUE(frame.ok() && frame->has_value());
    return frame.ok() && *frame ? **frame : std::string();
  }
  AgentMessage recv() {
    std::string frame = recv_frame();
    auto msg = proto::parse_agent_message(frame);
    EXPECT_TRUE(msg.ok()) << frame;
    return msg.ok() ? *msg : proto::ErrorReply{0, "<unparsable>"};
  }
  // The test extension's transfer_done.
  test_agent::TransferDone recv_done() {
    std::string frame = recv_frame();
    auto msg = test_agent::parse_test_agent_message(frame);
    EXPECT_TRUE(msg.ok()) << frame;
    return msg.ok() ? std::get<test_agent::TransferDone>(*msg) : test_agent::TransferDone{};
  }
  // Closes our end (unless asked not to) and returns what serve() returned.
  Result<Agent::Outcome> finish(bool close_host = true) {
    if (close_host) host_.reset();
    thread_.join();
    return std::move(*outcome_);
  }

 private:
  UniqueFd host_, guest_;
  std::unique_ptr<Agent> agent_;
  std::thread thread_;
  std::optional<Result<Agent::Outcome>> outcome_;
};

template <class M>
M expect_reply(const AgentMessage& m) {
  EXPECT_TRUE(std::holds_alternative<M>(m)) << proto::to_json(m);
  return std::holds_alternative<M>(m) ? std::get<M>(m) : M{};
}

TEST(Agent, HelloThenPing) {
  Harness h;
  proto::Hello hello{proto::kProtocolVersion, "test", 12345, "6.1"};
  ASSERT_TRUE(h.agent().send_hello(hello).ok());
  h.start();
  EXPECT_EQ(expect_reply<proto::Hello>(h.recv()), hello);
  h.send(R"({"type":"ping","id":77})");
  EXPECT_EQ(expect_reply<proto::Pong>(h.recv()).id, 77u);
  h.send(R"({"type":"ping","id":78})");
  EXPECT_EQ(expect_reply<proto::Pong>(h.recv()).id, 78u);
  auto out = h.finish();
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, Agent::Outcome::kHostGone);
}

// Dial hands the agent one end of a socketpair and the test the other.
struct PairDialer {
  std::promise<UniqueFd> host_end;
  std::promise<uint32_t> port;
  DialFn fn() {
    return [this](uint32_t p) -> Result<UniqueFd> {
      auto [a, b] = socket_pair();
      port.set_value(p);
      host_end.set_value(std::move(b));
      return std::move(a);
    };
  }
};

// Reads the data stream to EOF, verifying it against the generator.
std::pair<uint64_t, bool> drain_and_verify(int fd, uint64_t seed) {
  test_agent::TransferStream expected(seed);
  std::vector<uint8_t> buf(100'003);  // odd size: chunking must not matter
  uint64_t total = 0;
  bool same = true;
  for (;;) {
    auto n = proto::read_full(fd, buf.data(), buf.size());
    if (!n.ok() || *n == 0) break;
    same = expected.matches(std::span(buf.data(), *n)) && same;
    total += *n;
  }
  return {total, same};
}

// The transfer tests below run the test agent's extension
// (guest/test_agent) through the agent's hook.
TEST(Agent, TransferWritesTheSeededStream) {
  for (uint64_t bytes : {uint64_t{3 * 1024 * 1024 + 5}, uint64_t{0}, uint64_t{1}}) {
    PairDialer dialer;
    Harness h(dialer.fn(), test_agent::handle_request);
    h.start();
    h.send(proto::to_json(test_agent::Transfer{9, 4321, bytes, 0xfeedface}));
    EXPECT_EQ(dialer.port.get_future().get(), 4321u);
    UniqueFd data = dialer.host_end.get_future().get();
    auto [total, same] = drain_and_verify(data.get(), 0xfeedface);
    EXPECT_EQ(total, bytes);
    EXPECT_TRUE(same);
    auto done = h.recv_done();
    EXPECT_EQ(done.id, 9u);
    EXPECT_EQ(done.bytes, bytes);
    EXPECT_EQ(*h.finish(), Agent::Outcome::kHostGone);
  }
}

TEST(Agent, TransferToWrongSeedDoesNotVerify) {
  PairDialer dialer;
  Harness h(dialer.fn(), test_agent::handle_request);
  h.start();
  h.send(proto::to_json(test_agent::Transfer{1, 5, 4096, 1}));
  UniqueFd data = dialer.host_end.get_future().get();
  EXPECT_FALSE(drain_and_verify(data.get(), 2).second);
  EXPECT_EQ(h.recv_done().id, 1u);
}

TEST(Agent, TransferDialFailureIsErrorReplyAndServingGoesOn) {
  Harness h(refuse_dial, test_agent::handle_request);
  h.start();
  h.send(proto::to_json(test_agent::Transfer{5, 6000, 100, 1}));
  auto err = expect_reply<proto::ErrorReply>(h.recv());
  EXPECT_EQ(err.id, 5u);
  EXPECT_NE(err.message.find("6000"), std::string::npos) << err.message;
  h.send(R"({"type":"ping","id":6})");
  EXPECT_EQ(expect_reply<proto::Pong>(h.recv()).id, 6u);
}

TEST(Agent, TransferReaderVanishingIsErrorReply) {
  PairDialer dialer;
  Harness h(dialer.fn(), test_agent::handle_request);
  h.start();
  h.send(proto::to_json(test_agent::Transfer{3, 1, 64 << 20, 1}));
  dialer.host_end.get_future().get().reset();  // close the data stream at once
  auto err = expect_reply<proto::ErrorReply>(h.recv());
  EXPECT_EQ(err.id, 3u);
  EXPECT_NE(err.message.find("transfer"), std::string::npos) << err.message;
}

TEST(Agent, ExtensionRejectsItsBadRequestsAndLeavesOthersAlone) {
  Harness h(refuse_dial, test_agent::handle_request);
  h.start();
  h.send(R"({"type":"transfer","id":8,"port":1,"bytes":99999999999,"seed":0})");
  auto err = expect_reply<proto::ErrorReply>(h.recv());
  EXPECT_EQ(err.id, 8u);
  EXPECT_NE(err.message.find("bad request: bytes"), std::string::npos) << err.message;
  h.send(R"({"type":"ping","id":6})");
  EXPECT_EQ(expect_reply<proto::Pong>(h.recv()).id, 6u);
  h.send("not json");
  EXPECT_EQ(expect_reply<proto::ErrorReply>(h.recv()).id, 0u);
}

// runvm-agent (no extension) does not know the test requests.
TEST(Agent, TransferIsUnknownWithoutTheTestExtension) {
  Harness h;
  h.start();
  h.send(proto::to_json(test_agent::Transfer{4, 5, 4096, 1}));
  auto err = expect_reply<proto::ErrorReply>(h.recv());
  EXPECT_EQ(err.id, 4u);
  EXPECT_NE(err.message.find("unknown message type \"transfer\""), std::string::npos)
      << err.message;
  h.send(R"({"type":"ping","id":5})");
  EXPECT_EQ(expect_reply<proto::Pong>(h.recv()).id, 5u);
}

// The crash trigger (PROTOCOL.md "Test extension: crash") is an exec of
// exactly one argument, the trigger's name; nothing else resembles it.
TEST(TestExtension, CrashTriggerIsOnlyTheExactSingleArgument) {
  auto is_trigger = [](std::string_view json) {
    auto doc = json::Document::parse(json);
    return doc.ok() && test_agent::is_crash_trigger(doc->root());
  };
  EXPECT_TRUE(is_trigger(R"({"process":{"args":["runvm-test-crash-agent"]}})"));
  EXPECT_FALSE(is_trigger(R"({"process":{"args":["runvm-test-crash-agent","x"]}})"));
  EXPECT_FALSE(is_trigger(R"({"process":{"args":["/runvm-test-crash-agent"]}})"));
  EXPECT_FALSE(is_trigger(R"({"process":{"args":[]}})"));
  EXPECT_FALSE(is_trigger(R"({"process":{"args":[7]}})"));
  EXPECT_FALSE(is_trigger(R"({"process":{"args":"runvm-test-crash-agent"}})"));
  EXPECT_FALSE(is_trigger(R"({"process":7})"));
  EXPECT_FALSE(is_trigger(R"({})"));
}

// runvm-agent (no extension) treats the trigger as an ordinary exec: it
// never reaches the crash path, whatever a caller sends.
TEST(Agent, CrashTriggerIsAnOrdinaryExecWithoutTheTestExtension) {
  Harness h;
  h.start();
  h.send(R"({"type":"exec","id":6,"container_id":"nope","exec_id":"e",)"
         R"("process":{"args":["runvm-test-crash-agent"],"cwd":"/"},"stdio":{}})");
  EXPECT_EQ(expect_reply<proto::ErrorReply>(h.recv()).id, 6u);
  h.send(R"({"type":"ping","id":7})");
  EXPECT_EQ(expect_reply<proto::Pong>(h.recv()).id, 7u);
}

TEST(Agent, ShutdownAcknowledgedThenStops) {
  Harness h;
  h.start();
  h.send(R"({"type":"shutdown","id":11})");
  EXPECT_EQ(expect_reply<proto::Ok>(h.recv()).id, 11u);
  auto out = h.finish(/*close_host=*/false);  // must stop without our EOF
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, Agent::Outcome::kShutdown);
}

// PID 1 syncs there: the host stops the VM as soon as the ok arrives.
TEST(Agent, ShutdownHookRunsBeforeTheOkIsSent) {
  int host_fd = -1;
  std::atomic<int> runs{0};
  std::atomic<bool> ok_was_out{false};
  Harness h(refuse_dial, {}, [&] {
    ++runs;
    pollfd p{host_fd, POLLIN, 0};
    ok_was_out = ::poll(&p, 1, 0) != 0;
  });
  host_fd = h.host_fd();
  h.start();
  h.send(R"({"type":"ping","id":10})");
  EXPECT_EQ(expect_reply<proto::Pong>(h.recv()).id, 10u);
  EXPECT_EQ(runs, 0);  // not for any other request
  h.send(R"({"type":"shutdown","id":11})");
  EXPECT_EQ(expect_reply<proto::Ok>(h.recv()).id, 11u);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(ok_was_out);
  auto out = h.finish(/*close_host=*/false);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, Agent::Outcome::kShutdown);
}

TEST(Agent, GarbageGetsErrorRepliesAndServingGoesOn) {
  Harness h;
  h.start();
  struct Case {
    std::string body;
    uint64_t id;
  } cases[] = {
      {"", 0},
      {"not json", 0},
      {"[1,2]", 0},
      {R"({"type":"ping"})", 0},
      {R"({"type":"pong","id":4})", 4},
      {R"({"type":"transfer","id":8,"port":1,"bytes":99999999999,"seed":0})", 8},
      {R"({"type":"transfer","id":9,"port":-1,"bytes":1,"seed":0})", 9},
      {std::string("{\"type\":\"\xff\"}"), 0},
      {std::string("{\"id\":2,\0}", 10), 0},
  };
  for (const auto& c : cases) {
    h.send(c.body);
    auto err = expect_reply<proto::ErrorReply>(h.recv());
    EXPECT_EQ(err.id, c.id) << c.body;
    EXPECT_NE(err.message.find("bad request"), std::string::npos) << err.message;
    for (char ch : err.message) EXPECT_TRUE(ch >= 0x20 && ch <= 0x7e) << err.message;
  }
  h.send(R"({"type":"ping","id":1})");
  EXPECT_EQ(expect_reply<proto::Pong>(h.recv()).id, 1u);
}

// freeze and thaw name a container: an unknown one is an error reply at once
// (the host must never wait for a freeze of nothing).
TEST(Agent, FreezeAndThawOfAnUnknownContainerAreErrors) {
  Harness h;
  h.start();
  h.send(R"({"type":"freeze","id":3,"container_id":"nope"})");
  auto err = expect_reply<proto::ErrorReply>(h.recv());
  EXPECT_EQ(err.id, 3u);
  EXPECT_EQ(err.message, "container \"nope\" does not exist");
  h.send(R"({"type":"thaw","id":4,"container_id":"nope"})");
  EXPECT_EQ(expect_reply<proto::ErrorReply>(h.recv()).id, 4u);
  h.send(R"({"type":"freeze","id":5,"container_id":"../x"})");
  EXPECT_NE(expect_reply<proto::ErrorReply>(h.recv()).message.find("bad request"),
            std::string::npos);
}

TEST(Agent, OversizedFrameEndsServing) {
  Harness h;
  h.start();
  h.send_raw(std::string("\x7f\xff\xff\xff", 4));
  auto out = h.finish(/*close_host=*/false);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("exceeds"), std::string::npos) << out.error().message;
}

TEST(Agent, TruncatedFrameIsError) {
  Harness h;
  h.start();
  h.send_raw(std::string("\0\0\0\x10{\"ty", 8));
  auto out = h.finish();
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("EOF"), std::string::npos);
}

TEST(Agent, StatsOfAnUnknownContainerIsAnError) {
  auto made = Agent::create(-1, AgentConfig{refuse_dial, {}, {}});
  ASSERT_TRUE(made.ok());
  auto h = (*made)->handle(R"({"type":"stats","id":3,"container_id":"nope"})");
  ASSERT_TRUE(h.reply);
  auto* err = std::get_if<proto::ErrorReply>(&*h.reply);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->id, 3u);
  EXPECT_EQ(err->message, "container \"nope\" does not exist");
}

TEST(Agent, HandleSurvivesRandomInput) {
  auto made = Agent::create(-1, AgentConfig{refuse_dial, {}, {}});
  ASSERT_TRUE(made.ok());
  Agent& agent = **made;
  std::mt19937_64 rng(1234);
  const std::string seeds[] = {R"({"type":"transfer","id":1,"port":2,"bytes":3,"seed":4})",
                               R"({"type":"ping","id":18446744073709551615})",
                               R"({"type":"shutdown","id":0})"};
  for (int i = 0; i < 3000; ++i) {
    std::string s = seeds[i % 3];
    for (int k = 0; k < 1 + i % 4; ++k) s[rng() % s.size()] = static_cast<char>(rng());
    auto h = agent.handle(s);
    // Each reply must be encodable and parse back as an agent message. None
    // is deferred: no input here begins a process's set-up.
    ASSERT_TRUE(h.reply) << s;
    EXPECT_TRUE(proto::parse_agent_message(proto::to_json(*h.reply)).ok()) << s;
  }
}

}  // namespace
}  // namespace runvm::agent
