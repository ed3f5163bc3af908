#include "guest/protocol/stdio_kind.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spec/base/unique_fd.h"

namespace runvm::proto {
namespace {

TEST(StdioKind, OfHostFds) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  EXPECT_EQ(stdio_kind_of_fd(r.get()), StdioKind::kPipe);
  EXPECT_EQ(stdio_kind_of_fd(w.get()), StdioKind::kPipe);

  int s[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  UniqueFd s0(s[0]), s1(s[1]);
  EXPECT_EQ(stdio_kind_of_fd(s0.get()), StdioKind::kSocket);

  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  EXPECT_EQ(stdio_kind_of_fd(null.get()), std::nullopt);
  EXPECT_EQ(stdio_kind_of_fd(987654), std::nullopt);  // closed

  int m, sl;
  ASSERT_EQ(openpty(&m, &sl, nullptr, nullptr, nullptr), 0);
  UniqueFd master(m), slave(sl);
  EXPECT_EQ(stdio_kind_of_fd(slave.get()), StdioKind::kTty);

  char path[] = "/tmp/runvm-stdio-kind-XXXXXX";
  UniqueFd file(mkstemp(path));
  ASSERT_TRUE(file.valid());
  unlink(path);
  EXPECT_EQ(stdio_kind_of_fd(file.get()), StdioKind::kFile);
  ASSERT_EQ(fcntl(file.get(), F_SETFL, O_APPEND), 0);
  EXPECT_EQ(stdio_kind_of_fd(file.get()), StdioKind::kAppendFile);

  // Not a terminal, not /dev/null: relayed through a pipe.
  UniqueFd zero(open("/dev/zero", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(stdio_kind_of_fd(zero.get()), StdioKind::kPipe);
}

}  // namespace
}  // namespace runvm::proto
