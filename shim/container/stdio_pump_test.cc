#include "shim/container/stdio_pump.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

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

}  // namespace
}  // namespace runvm
