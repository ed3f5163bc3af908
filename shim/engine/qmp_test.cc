#include "shim/engine/qmp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "spec/base/json.h"
#include "spec/base/unix_socket.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

constexpr const char* kGreeting =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": ["oob"]}})";

// The "id" and "execute" of a command line the client sent.
struct Sent {
  std::string execute;
  uint64_t id = 0;
  std::string arguments;  // re-serialized "arguments" or ""
};

Sent parse_sent(const std::string& line) {
  auto doc = json::Document::parse(line);
  EXPECT_TRUE(doc.ok()) << line;
  if (!doc.ok()) return {};
  Sent s;
  s.execute = doc->root().at("execute")->as_string().value();
  s.id = doc->root().at("id")->as_uint().value();
  if (auto args = doc->root().get("arguments"); args.ok() && *args)
    s.arguments = (*args)->at("x").ok() ? "x" : "?";
  return s;
}

// ---- Protocol state machine, no transport ----

TEST(QmpProtocol, GreetingTriggersCapabilityNegotiation) {
  QmpProtocol p;
  EXPECT_EQ(p.state(), QmpProtocol::State::kAwaitGreeting);
  auto step = p.on_line(std::string(kGreeting) + "\r");
  ASSERT_TRUE(step.ok()) << step.error().message;
  EXPECT_EQ(p.state(), QmpProtocol::State::kNegotiating);
  ASSERT_FALSE(step->send.empty());
  EXPECT_EQ(step->send.back(), '\n');
  Sent s = parse_sent(step->send);
  EXPECT_EQ(s.execute, "qmp_capabilities");
  auto done = p.on_line(R"({"return": {}, "id": )" + std::to_string(s.id) + "}");
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(done->reply.has_value());
  EXPECT_TRUE(p.ready());
}

QmpProtocol ready_protocol() {
  QmpProtocol p;
  Sent s = parse_sent(p.on_line(kGreeting)->send);
  EXPECT_TRUE(p.on_line(R"({"return": {}, "id": )" + std::to_string(s.id) + "}").ok());
  return p;
}

TEST(QmpProtocol, RejectsAnythingButAGreetingFirst) {
  QmpProtocol p;
  EXPECT_FALSE(p.on_line(R"({"return": {}})").ok());
  EXPECT_FALSE(p.on_line("not json").ok());
}

// QEMU 7.2 can write an event to a fresh connection before its greeting
// (its I/O thread accepts the client, its main thread emits RESUME before
// the greeting goes out): recorded, not a protocol error.
TEST(QmpProtocol, EventsBeforeTheGreetingAreRecorded) {
  QmpProtocol p;
  auto ev = p.on_line(
      R"({"timestamp": {"seconds": 1796012376, "microseconds": 614428}, "event": "RESUME"})");
  ASSERT_TRUE(ev.ok()) << ev.error().message;
  EXPECT_TRUE(ev->send.empty());
  EXPECT_FALSE(ev->reply.has_value());
  EXPECT_EQ(p.state(), QmpProtocol::State::kAwaitGreeting);
  Sent s = parse_sent(p.on_line(kGreeting)->send);
  EXPECT_EQ(s.execute, "qmp_capabilities");
  ASSERT_TRUE(p.on_line(R"({"return": {}, "id": )" + std::to_string(s.id) + "}").ok());
  EXPECT_TRUE(p.ready());
  auto events = p.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], "RESUME");
}

TEST(QmpProtocol, MalformedEventBeforeTheGreetingIsAnError) {
  QmpProtocol p;
  EXPECT_FALSE(p.on_line(R"({"event": 7})").ok());
}

TEST(QmpProtocol, ErrorsQuoteTheReceivedLine) {
  QmpProtocol p;
  auto r = p.on_line(R"({"return": {}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, R"(qmp: expected greeting; received: {"return": {}})");
  // Truncated, and control or non-ASCII bytes escaped: the peer cannot
  // flood or garble the one error line.
  auto junk = p.on_line("\x1b[2J\xff" + std::string(500, 'x'));
  ASSERT_FALSE(junk.ok());
  const std::string& m = junk.error().message;
  auto at = m.find("; received: ");
  ASSERT_NE(at, std::string::npos) << m;
  EXPECT_EQ(m.substr(at + 12, 16), "\\x1b[2J\\xffxxxxx") << m;
  EXPECT_EQ(m.substr(m.size() - 4), "x...") << m;
  EXPECT_LT(m.size(), 300u);
  for (char c : m) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << m;
}

TEST(QmpProtocol, CapabilityErrorFailsNegotiation) {
  QmpProtocol p;
  (void)p.on_line(kGreeting);
  auto r = p.on_line(R"({"error": {"class": "GenericError", "desc": "nope"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nope"), std::string::npos);
  EXPECT_FALSE(p.ready());
}

TEST(QmpProtocol, CommandsNeedAReadySession) {
  QmpProtocol p;
  EXPECT_FALSE(p.command("stop").ok());
}

TEST(QmpProtocol, ReplyCompletesThePendingCommand) {
  QmpProtocol p = ready_protocol();
  auto bytes = p.command("query-status");
  ASSERT_TRUE(bytes.ok());
  Sent s = parse_sent(*bytes);
  EXPECT_EQ(s.execute, "query-status");
  EXPECT_TRUE(p.busy());
  EXPECT_FALSE(p.command("stop").ok()) << "one command at a time";
  auto step = p.on_line(R"({"return": {"status": "running", "running": true, "n": 5}, "id": )" +
                        std::to_string(s.id) + "}");
  ASSERT_TRUE(step.ok());
  ASSERT_TRUE(step->reply.has_value());
  ASSERT_TRUE(step->reply->ok());
  EXPECT_EQ(step->reply->value(), R"({"status":"running","running":true,"n":5})");
  EXPECT_FALSE(p.busy());
}

TEST(QmpProtocol, EventsAreSkippedAndRecorded) {
  QmpProtocol p = ready_protocol();
  Sent s = parse_sent(*p.command("cont"));
  auto ev = p.on_line(R"({"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"})");
  ASSERT_TRUE(ev.ok());
  EXPECT_FALSE(ev->reply.has_value());
  EXPECT_TRUE(p.busy());
  auto done = p.on_line(R"({"return": {}, "id": )" + std::to_string(s.id) + "}");
  ASSERT_TRUE(done->reply.has_value());
  auto events = p.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], "RESUME");
  EXPECT_TRUE(p.take_events().empty());
}

TEST(QmpProtocol, ErrorReplyIsACommandErrorNotASessionError) {
  QmpProtocol p = ready_protocol();
  Sent s = parse_sent(*p.command("frobnicate"));
  auto step = p.on_line(
      R"({"error": {"class": "CommandNotFound", "desc": "The command frobnicate has not been found"}, "id": )" +
      std::to_string(s.id) + "}");
  ASSERT_TRUE(step.ok());
  ASSERT_TRUE(step->reply.has_value());
  ASSERT_FALSE(step->reply->ok());
  EXPECT_EQ(step->reply->error().message,
            "qmp frobnicate: CommandNotFound: The command frobnicate has not been found");
  EXPECT_TRUE(p.command("stop").ok()) << "session still usable";
}

TEST(QmpProtocol, StaleRepliesOfAbandonedCommandsAreIgnored) {
  QmpProtocol p = ready_protocol();
  Sent old = parse_sent(*p.command("stop"));
  p.abandon();
  Sent now = parse_sent(*p.command("cont"));
  ASSERT_NE(old.id, now.id);
  auto stale = p.on_line(R"({"return": {"stale": true}, "id": )" + std::to_string(old.id) + "}");
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->reply.has_value());
  auto fresh = p.on_line(R"({"return": {}, "id": )" + std::to_string(now.id) + "}");
  ASSERT_TRUE(fresh->reply.has_value());
  EXPECT_EQ(fresh->reply->value(), "{}");
}

TEST(QmpProtocol, ArgumentsMustBeAJsonObject) {
  QmpProtocol p = ready_protocol();
  EXPECT_FALSE(p.command("x", "[1]").ok());
  EXPECT_FALSE(p.command("x", "{bad").ok());
  EXPECT_FALSE(p.busy()) << "rejected command must not stay pending";
  auto bytes = p.command("human-monitor-command", R"({"x": "info \"q\"\nnext"})");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->find('\n'), bytes->size() - 1) << "exactly one line";
  EXPECT_EQ(parse_sent(*bytes).arguments, "x");
}

TEST(QmpProtocol, MessagesThatAreNeitherReplyNorEventAreErrors) {
  QmpProtocol p = ready_protocol();
  (void)p.command("stop");
  EXPECT_FALSE(p.on_line(R"({"something": 1})").ok());
  EXPECT_FALSE(p.on_line("[]").ok());
}

// ---- Client over a real socket with a scripted peer ----

// Runs `script` on a thread with the peer end of a socketpair.
class ScriptedPeer {
 public:
  explicit ScriptedPeer(std::function<void(ScriptedPeer&)> script) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    client_.reset(sv[0]);
    peer_.reset(sv[1]);
    thread_ = std::thread([this, script = std::move(script)] { script(*this); });
  }
  ~ScriptedPeer() {
    if (thread_.joinable()) thread_.join();
  }
  UniqueFd take_client() { return std::move(client_); }

  void write(const std::string& s) {
    ASSERT_EQ(::send(peer_.get(), s.data(), s.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(s.size()));
  }
  std::string read_line() {
    std::string line;
    char c;
    while (::read(peer_.get(), &c, 1) == 1 && c != '\n') line += c;
    return line;
  }
  // Reads a command and checks its name; returns its id.
  uint64_t expect(const std::string& execute) {
    Sent s = parse_sent(read_line());
    EXPECT_EQ(s.execute, execute);
    return s.id;
  }
  void reply(uint64_t id, const std::string& ret = "{}") {
    write(R"({"return": )" + ret + R"(, "id": )" + std::to_string(id) + "}\r\n");
  }
  void handshake() {
    write(std::string(kGreeting) + "\r\n");
    reply(expect("qmp_capabilities"));
  }
  void close() { peer_.reset(); }

 private:
  UniqueFd client_, peer_;
  std::thread thread_;
};

TEST(QmpClient, HandshakeThenCommandsWithEventsInterleaved) {
  ScriptedPeer peer([](ScriptedPeer& p) {
    p.handshake();
    uint64_t id = p.expect("stop");
    p.write(R"({"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 0}})"
            "\r\n");
    p.reply(id);
    id = p.expect("query-status");
    // Reply split across writes, followed by an event in the same write.
    p.write(R"({"return": {"status": "paused", )");
    p.write(R"("running": false}, "id": )" + std::to_string(id) + "}\r\n" +
            R"({"event": "X", "timestamp": {"seconds": 1, "microseconds": 0}})"
            "\r\n");
    id = p.expect("bogus");
    p.write(R"({"error": {"class": "CommandNotFound", "desc": "no bogus"}, "id": )" +
            std::to_string(id) + "}\r\n");
  });
  auto client = QmpClient::handshake(peer.take_client(), 5s);
  ASSERT_TRUE(client.ok()) << client.error().message;
  auto stop = client->execute("stop");
  ASSERT_TRUE(stop.ok()) << stop.error().message;
  EXPECT_EQ(*stop, "{}");
  auto status = client->execute("query-status");
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(*status, R"({"status":"paused","running":false})");
  auto bogus = client->execute("bogus");
  ASSERT_FALSE(bogus.ok());
  EXPECT_EQ(bogus.error().message, "qmp bogus: CommandNotFound: no bogus");
  auto events = client->take_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], "STOP");
  EXPECT_EQ(events[1], "X");
}

TEST(QmpClient, HandshakeAcceptsEventsBeforeTheGreeting) {
  ScriptedPeer peer([](ScriptedPeer& p) {
    p.write(R"({"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"})"
            "\r\n");
    p.handshake();
    p.reply(p.expect("query-status"), R"({"status": "running"})");
  });
  auto client = QmpClient::handshake(peer.take_client(), 5s);
  ASSERT_TRUE(client.ok()) << client.error().message;
  auto status = client->execute("query-status");
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(*status, R"({"status":"running"})");
  auto events = client->take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], "RESUME");
}

TEST(QmpClient, CommandTimesOutWhenPeerIsSilent) {
  ScriptedPeer peer([](ScriptedPeer& p) {
    p.handshake();
    p.expect("query-status");
    p.read_line();  // hold the connection open until the client closes it
  });
  auto client = QmpClient::handshake(peer.take_client(), 5s);
  ASSERT_TRUE(client.ok());
  auto r = client->execute("query-status", {}, 50ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ETIMEDOUT);
  client = make_error("drop");  // closes the socket so the peer finishes
}

TEST(QmpClient, PeerClosingFailsTheCommand) {
  ScriptedPeer peer([](ScriptedPeer& p) {
    p.handshake();
    p.expect("quit");
    p.close();
  });
  auto client = QmpClient::handshake(peer.take_client(), 5s);
  ASSERT_TRUE(client.ok());
  auto r = client->execute("quit");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EPIPE);
}

TEST(QmpClient, OverlongLineIsRejected) {
  ScriptedPeer peer([](ScriptedPeer& p) {
    std::string big(QmpClient::kMaxLine + 4096, ' ');
    p.write(big);
  });
  auto client = QmpClient::handshake(peer.take_client(), 5s);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().message.find("too long"), std::string::npos) << client.error().message;
}

TEST(QmpClient, AbortFdEndsTheWait) {
  int abort[2];
  ASSERT_EQ(::pipe2(abort, O_CLOEXEC), 0);
  UniqueFd abort_r(abort[0]), abort_w(abort[1]);
  ASSERT_EQ(::write(abort_w.get(), "x", 1), 1);
  ScriptedPeer peer([](ScriptedPeer& p) { p.read_line(); });  // never greets
  auto client = QmpClient::handshake(peer.take_client(), 10s, abort_r.get());
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, ECHILD);
}

TEST(QmpClient, ConnectRetriesUntilTheSocketAppears) {
  TempDir dir;
  const std::string path = dir / "qmp.sock";
  UniqueFd listener;
  std::thread late([&] {
    std::this_thread::sleep_for(100ms);
    auto l = listen_unix(path);
    ASSERT_TRUE(l.ok()) << l.error().message;
    listener = std::move(*l);
  });
  auto fd = QmpClient::connect_unix(path, 10s);
  late.join();
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(accepted.valid());
}

TEST(QmpClient, ConnectGivesUpOnTimeoutOrAbort) {
  TempDir dir;
  auto timed_out = QmpClient::connect_unix(dir / "never.sock", 30ms);
  ASSERT_FALSE(timed_out.ok());
  EXPECT_NE(timed_out.error().message.find("timed out"), std::string::npos);

  int abort[2];
  ASSERT_EQ(::pipe2(abort, O_CLOEXEC), 0);
  UniqueFd abort_r(abort[0]), abort_w(abort[1]);
  ASSERT_EQ(::write(abort_w.get(), "x", 1), 1);
  auto aborted = QmpClient::connect_unix(dir / "never.sock", 10s, abort_r.get());
  ASSERT_FALSE(aborted.ok());
  EXPECT_EQ(aborted.error().code, ECHILD);
}

}  // namespace
}  // namespace runvm
