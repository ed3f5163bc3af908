#include "shim/container/stdio_pump.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

namespace runvm {
namespace {

TEST(StdioPump, CopiesUntilEofAndShutsDownSocketDestination) {
  int in[2], out[2];
  ASSERT_EQ(pipe(in), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, out), 0);
  UniqueFd in_r(in[0]), in_w(in[1]), peer(out[1]);
  std::string data(300000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  {
    StdioPump pump(in_r.get(), UniqueFd(out[0]));
    std::thread writer([&] {
      ASSERT_EQ(write(in_w.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
      in_w.reset();
    });
    std::string got;
    char buf[8192];
    ssize_t n;
    while ((n = read(peer.get(), buf, sizeof buf)) > 0) got.append(buf, n);
    writer.join();
    EXPECT_EQ(got, data);  // and EOF arrived: the pump shut the socket down
    pump.join();
    EXPECT_EQ(pump.bytes(), data.size());
  }
}

TEST(StdioPump, StopsWhenReaderGoes) {
  int s[2], p[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  ASSERT_EQ(pipe(p), 0);
  UniqueFd src_peer(s[1]), pipe_r(p[0]), pipe_w(p[1]);
  signal(SIGPIPE, SIG_IGN);
  StdioPump pump(UniqueFd(s[0]), pipe_w.get());
  pipe_r.reset();  // nobody reads the destination any more
  ASSERT_EQ(write(src_peer.get(), "abc", 3), 3);
  pump.join();  // must return, not block or die of SIGPIPE
  SUCCEED();
}

// The drain after the process's exit sees a slow reader's progress in
// bytes() (ContainerShim::finish gives up after 5 s without any): it grows
// as the reader takes a part of what was read from the source, not only
// once all of it went out (a blocking write of 64 KiB to a pipe returns
// when all of it went in: a 10 KB/s reader lost 66527 of 588895 bytes).
TEST(StdioPump, BytesGrowWhileASlowReaderTakesPartOfARead) {
  int s[2], p[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  ASSERT_EQ(pipe(p), 0);
  UniqueFd src_peer(s[1]), pipe_r(p[0]), pipe_w(p[1]);
  ASSERT_GT(fcntl(pipe_w.get(), F_SETPIPE_SZ, 4096), 0);  // one page
  const std::string data(128 * 1024, 'y');
  StdioPump pump(UniqueFd(s[0]), pipe_w.get());
  std::thread writer([&] {
    for (size_t off = 0; off < data.size();) {
      ssize_t n = write(src_peer.get(), data.data() + off, data.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    src_peer.reset();
  });
  auto read_exactly = [&](size_t len) {
    std::string got;
    char buf[4096];
    while (got.size() < len) {
      ssize_t n = read(pipe_r.get(), buf, std::min(sizeof buf, len - got.size()));
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  };
  // The reader takes 40 KiB and stops: the pump wrote that much at least.
  std::string got = read_exactly(40 * 1024);
  ASSERT_EQ(got.size(), 40u * 1024);
  for (int i = 0; i < 1000 && pump.bytes() < 32 * 1024; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(pump.bytes(), 32u * 1024);
  got += read_exactly(data.size() - got.size());
  pump.join();
  writer.join();
  EXPECT_EQ(got, data);
  EXPECT_EQ(pump.bytes(), data.size());
}

}  // namespace
}  // namespace runvm
