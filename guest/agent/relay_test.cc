#include "guest/agent/relay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>

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

}  // namespace
}  // namespace runvm::agent
