#include "spec/base/unix_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

class UnixSocketTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_{"runvm-unix-socket-test"};
  const std::string dir_ = tmp_.path();
};

TEST(UnixAddress, PathLengthIsChecked) {
  EXPECT_TRUE(unix_address(std::string(kUnixPathMax, 'a')).ok());
  auto too_long = unix_address(std::string(kUnixPathMax + 1, 'a'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, ENAMETOOLONG);
  EXPECT_NE(too_long.error().message.find("too long"), std::string::npos);
  auto empty = unix_address("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ENAMETOOLONG);
}

TEST_F(UnixSocketTest, ListenThenConnect) {
  std::string path = dir_ + "/s.sock";
  auto l = listen_unix(path, {.mode = 0600});
  ASSERT_TRUE(l.ok()) << l.error().message;
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(fcntl(l->get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_FALSE(fcntl(l->get(), F_GETFL) & O_NONBLOCK);

  auto c = connect_unix(path, /*nonblocking=*/true);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(fcntl(c->get(), F_GETFL) & O_NONBLOCK);
  UniqueFd conn(accept4(l->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn.valid());
  ASSERT_EQ(write(c->get(), "x", 1), 1);
  char b;
  ASSERT_EQ(read(conn.get(), &b, 1), 1);
  EXPECT_EQ(b, 'x');
}

TEST_F(UnixSocketTest, ExistingPathIsInUseUnlessReplaced) {
  std::string path = dir_ + "/s.sock";
  auto first = listen_unix(path);
  ASSERT_TRUE(first.ok());
  auto taken = listen_unix(path);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, EADDRINUSE);
  // A failed bind leaves the other socket's file alone.
  EXPECT_TRUE(std::filesystem::exists(path));
  auto replaced = listen_unix(path, {.nonblocking = true, .replace_stale = true});
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  EXPECT_TRUE(fcntl(replaced->get(), F_GETFL) & O_NONBLOCK);
}

TEST_F(UnixSocketTest, ConnectToNothingFails) {
  auto c = connect_unix(dir_ + "/none.sock");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ENOENT);
  EXPECT_NE(c.error().message.find("none.sock"), std::string::npos);
}

TEST(UnixFd, SendAndReceiveLikeRunc) {
  int sv[2], p[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(pipe(p), 0);
  UniqueFd a(sv[0]), b(sv[1]), rd(p[0]), wr(p[1]);
  ASSERT_TRUE(send_fd(a.get(), "/dev/ptmx", wr.get()).ok());
  wr.reset();
  std::string name;
  auto got = receive_fd(b.get(), &name);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(name, "/dev/ptmx");
  EXPECT_TRUE(fcntl(got->get(), F_GETFD) & FD_CLOEXEC);
  ASSERT_EQ(write(got->get(), "hi", 2), 2);
  char buf[2];
  ASSERT_EQ(read(rd.get(), buf, 2), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
}

TEST(UnixFd, MessageWithoutFdIsRefused) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  ASSERT_EQ(write(a.get(), "/dev/ptmx", 9), 9);
  auto got = receive_fd(b.get());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, EPROTO);
}

TEST(UnixFd, SendToAClosedPeerFails) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]);
  close(sv[1]);
  EXPECT_FALSE(send_fd(a.get(), "/dev/ptmx", a.get()).ok());
}

}  // namespace
}  // namespace runvm
