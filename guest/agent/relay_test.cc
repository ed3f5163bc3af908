#include "guest/agent/relay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "guest/agent/process_io.h"
#include "guest/protocol/frame.h"

namespace runvm::agent {
namespace {

std::pair<UniqueFd, UniqueFd> socket_pair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Reads what is there now (nonblocking); sets *eof at EOF.
std::string read_now(int fd, bool* eof) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    *eof = n == 0;
    return out;
  }
}

struct Fixture {
  std::unique_ptr<EventLoop> loop = std::move(*EventLoop::create());
  UniqueFd writer, reader;  // test ends: writer -> relay -> reader
  std::unique_ptr<Relay> relay;
  int progress = 0;
  explicit Fixture(bool with_dst = true) {
    auto [w, src] = socket_pair();
    auto [dst, r] = socket_pair();
    writer = std::move(w);
    reader = std::move(r);
    if (!with_dst) dst.reset();
    relay =
        std::move(*Relay::create(*loop, std::move(src), std::move(dst), [this] { ++progress; }));
  }
  // Runs the loop until `done` or ~5 s.
  template <class F>
  bool run_until(F done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      EXPECT_TRUE(loop->run_once(50).ok());
    }
    return true;
  }
};

TEST(Relay, CopiesAndPropagatesEof) {
  Fixture f;
  ASSERT_TRUE(proto::write_all(f.writer.get(), "hello ", 6).ok());
  std::string got;
  bool eof = false;
  ASSERT_TRUE(f.run_until([&] {
    got += read_now(f.reader.get(), &eof);
    return got == "hello ";
  }));
  EXPECT_TRUE(f.relay->quiescent());
  EXPECT_FALSE(f.relay->finished());
  EXPECT_GT(f.progress, 0);
  ASSERT_TRUE(proto::write_all(f.writer.get(), "world", 5).ok());
  f.writer.reset();
  ASSERT_TRUE(f.run_until([&] {
    got += read_now(f.reader.get(), &eof);
    return eof;
  }));
  EXPECT_EQ(got, "hello world");
  EXPECT_TRUE(f.relay->finished());
}

TEST(Relay, SlowReaderBoundsTheBufferAndLosesNothing) {
  Fixture f;
  // Far more than the relay buffer plus both sockets' buffers.
  std::string data(8 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + i / 7);
  fcntl(f.writer.get(), F_SETFL, O_NONBLOCK);
  size_t sent = 0;
  std::string got;
  bool eof = false;
  // Phase 1: nobody reads; the writer must eventually be blocked.
  for (int i = 0; i < 200; ++i) {
    ssize_t n = send(f.writer.get(), data.data() + sent, data.size() - sent, MSG_DONTWAIT);
    if (n > 0) sent += static_cast<size_t>(n);
    ASSERT_TRUE(f.loop->run_once(0).ok());
  }
  EXPECT_LT(sent, data.size());
  EXPECT_FALSE(f.relay->quiescent());
  // Phase 2: read everything.
  ASSERT_TRUE(f.run_until([&] {
    if (sent < data.size()) {
      ssize_t n = send(f.writer.get(), data.data() + sent, data.size() - sent, MSG_DONTWAIT);
      if (n > 0) sent += static_cast<size_t>(n);
      if (sent == data.size()) shutdown(f.writer.get(), SHUT_WR);
    }
    got += read_now(f.reader.get(), &eof);
    return eof;
  }));
  EXPECT_TRUE(got == data) << got.size();
}

TEST(Relay, GoneReaderStillDrainsTheSource) {
  Fixture f;
  f.reader.reset();
  std::string chunk(100000, 'x');
  // Without draining, the writer would be stuck after a few hundred KiB.
  size_t sent = 0;
  for (int i = 0; i < 400 && sent < 40 * chunk.size(); ++i) {
    ssize_t n = send(f.writer.get(), chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (n > 0) sent += static_cast<size_t>(n);
    ASSERT_TRUE(f.loop->run_once(10).ok());
  }
  EXPECT_EQ(sent, 40 * chunk.size());
  EXPECT_TRUE(f.relay->finished());
}

TEST(Relay, NoDestinationDiscards) {
  Fixture f(/*with_dst=*/false);
  ASSERT_TRUE(proto::write_all(f.writer.get(), "dropped", 7).ok());
  f.writer.reset();
  ASSERT_TRUE(f.run_until([&] { return f.relay->finished(); }));
}

// A terminal's input: the vsock stream into the pty master, whose slave's
// reader (the container's process) takes nothing. The pty holds a few KiB;
// a write to a master with room for less than the relay holds (its POLLOUT
// says only that some room is there) must not wait for the reader, or the
// agent's loop, every container's, stops with it. The loop turns in a
// thread of its own: if a write blocks there, the test reads the slave to
// unblock it and fails.
TEST(Relay, APtyMasterThatTakesNothingNeverBlocksTheLoop) {
  auto loop = std::move(*EventLoop::create());
  auto pty = open_pty(std::nullopt);
  ASSERT_TRUE(pty.ok()) << pty.error().message;
  termios raw{};
  ASSERT_EQ(tcgetattr(pty->slave.get(), &raw), 0);
  cfmakeraw(&raw);  // bytes as they are, no echo into the master's output
  ASSERT_EQ(tcsetattr(pty->slave.get(), TCSANOW, &raw), 0);
  auto [writer, src] = socket_pair();
  // A copy, as the agent's: the master's last close would hang the slave
  // up and drop what it has not read yet.
  auto relay = Relay::create(*loop, std::move(src), UniqueFd(dup(pty->master.get())), [] {});
  ASSERT_TRUE(relay.ok()) << relay.error().message;
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + i / 7);
  std::atomic<int> turns{0};
  std::atomic<bool> stop{false};
  std::thread turner([&] {
    size_t sent = 0;
    while (!stop) {
      if (sent < data.size()) {
        ssize_t n = send(writer.get(), data.data() + sent, data.size() - sent, MSG_DONTWAIT);
        if (n > 0) sent += static_cast<size_t>(n);
        if (sent == data.size()) shutdown(writer.get(), SHUT_WR);
      }
      if (!loop->run_once(1).ok()) return;
      ++turns;
    }
  });
  // Nobody reads the slave: the loop keeps turning all the same.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (turns < 500 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  bool turned = turns >= 500;
  // Then the reader takes it all, a byte at a time at first, and loses
  // nothing.
  std::string got;
  char buf[4096];
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.size() < data.size() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{pty->slave.get(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(pty->slave.get(), buf, got.size() < 4096 ? 1 : sizeof buf);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
  }
  stop = true;
  turner.join();
  EXPECT_TRUE(turned) << "the loop turned " << turns
                      << " times in 10 s: a write to the pty blocked";
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

}  // namespace
}  // namespace runvm::agent
