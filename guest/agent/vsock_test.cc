#include "guest/agent/vsock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace runvm::agent {
namespace {

using namespace std::chrono_literals;

// Nothing listens on this port of the host (and a CI machine may lack vsock
// entirely), so every attempt fails: the loop must retry and then give up
// near the deadline with the last error.
TEST(Vsock, RetryGivesUpAfterTimeout) {
  auto start = std::chrono::steady_clock::now();
  auto fd = vsock_connect_retry(2, 0x7ffffff3, 120ms, 10ms);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(fd.ok());
  EXPECT_NE(fd.error().message.find("giving up after"), std::string::npos) << fd.error().message;
  EXPECT_EQ(fd.error().message.find("giving up after 1 attempts"), std::string::npos);
  EXPECT_NE(fd.error().code, 0);
  EXPECT_GE(took, 120ms);
  EXPECT_LT(took, 5s);
}

}  // namespace
}  // namespace runvm::agent
