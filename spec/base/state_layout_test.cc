#include "spec/base/state_layout.h"

#include <gtest/gtest.h>

#include <cstring>

namespace runvm::layout {
namespace {

TEST(StateLayout, HybridVsockPortSockets) {
  EXPECT_EQ(vsock_port_socket("/run/x/vsock.sock", 1025), "/run/x/vsock.sock_1025");
  EXPECT_EQ(fs_backend_socket(2), "fs2.vhost");
}

TEST(StateLayout, LongestSocketNameIsAVsockPortsWithTheLargestPort) {
  std::string longest = vsock_port_socket(kVsockSocket, UINT32_MAX);
  EXPECT_EQ(kLongestSocketName, longest.size());
  for (const char* name : {kShimSocket, kVsockSocket, kVsockBackendSocket})
    EXPECT_LE(std::strlen(name), kLongestSocketName) << name;
  EXPECT_LE(fs_backend_socket(999).size(), kLongestSocketName);
}

}  // namespace
}  // namespace runvm::layout
