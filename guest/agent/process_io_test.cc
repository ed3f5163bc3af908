#include "guest/agent/process_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace runvm::agent {
namespace {

using namespace std::chrono_literals;

bool nonblocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

// A stream dialed connected already (the unit tests' socketpairs): at once,
// and blocking afterwards as a blocking dial's.
TEST(AwaitConnected, AConnectedStreamIsReadyAndMadeBlocking) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  ASSERT_TRUE(nonblocking(a.get()));
  auto st = await_connected(a.get(), 1000ms);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_FALSE(nonblocking(a.get()));
}

// A refused connect is reported with its errno, whether the kernel refused
// it in connect() already or afterwards (SO_ERROR).
TEST(AwaitConnected, ARefusedConnectIsItsError) {
  // A loopback TCP port nobody listens on: bound, then closed.
  UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(probe.valid());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  probe.reset();
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
    FAIL() << "connected to a closed port";
  if (errno == ECONNREFUSED) GTEST_SKIP() << "refused at once: nothing left to await";
  ASSERT_EQ(errno, EINPROGRESS);
  auto st = await_connected(fd.get(), 5000ms);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ECONNREFUSED) << st.error().message;
}

// A connect nobody answers ends at the timeout, as an error.
TEST(AwaitConnected, AConnectNobodyAnswersTimesOut) {
  // A connect in progress is a socket not writable yet: so is a full
  // pipe, without a network to leave a TCP connect unanswered.
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  char buf[4096] = {};
  while (::write(w.get(), buf, sizeof buf) > 0) {
  }
  auto start = std::chrono::steady_clock::now();
  auto st = await_connected(w.get(), 100ms);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ETIMEDOUT) << st.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
}

}  // namespace
}  // namespace runvm::agent
