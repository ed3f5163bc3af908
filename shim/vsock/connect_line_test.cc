#include "shim/vsock/connect_line.h"

#include <gtest/gtest.h>

namespace runvm::vsock {
namespace {

TEST(VsockConnectLine, Accepts) {
  EXPECT_EQ(parse_connect_line("CONNECT 52\n"), 52u);
  EXPECT_EQ(parse_connect_line("CONNECT 0\n"), 0u);
  EXPECT_EQ(parse_connect_line("CONNECT 4294967295\n"), 4294967295u);
}

TEST(VsockConnectLine, RejectsAnythingElse) {
  for (const char* bad :
       {"CONNECT 52", "CONNECT \n", "connect 52\n", "CONNECT  52\n", "CONNECT +52\n",
        "CONNECT -1\n", "CONNECT 52 \n", "CONNECT 52\r\n", "CONNECT 4294967296\n",
        "CONNECT 00000000001\n", "CONNECT 5x\n", "OK 5\n", "", "\n", "CONNECT 1\nCONNECT 2\n"})
    EXPECT_FALSE(parse_connect_line(bad).has_value()) << bad;
}

TEST(VsockConnectLine, FormatsOk) { EXPECT_EQ(format_ok_line(1073741824), "OK 1073741824\n"); }

}  // namespace
}  // namespace runvm::vsock
