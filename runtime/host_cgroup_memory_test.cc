#include "runtime/host_cgroup_memory.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm::cli {
namespace {

// A v1 memory hierarchy mounted at a temporary directory, the process in
// /runvm/c1 of it.
TEST(HostCgroupMemory, ReadsV1UsageAndLimitOfTheProcessCgroup) {
  testing::TempDir mnt;
  std::string dir = mnt.path() + "/runvm/c1";
  ASSERT_EQ(mkdir((mnt.path() + "/runvm").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  std::ofstream(dir + "/memory.usage_in_bytes") << "121425920\n";
  std::ofstream(dir + "/memory.limit_in_bytes") << "9223372036854771712\n";
  std::string mountinfo =
      "35 31 0:32 / " + mnt.path() + " rw,relatime shared:5 - cgroup cgroup rw,memory\n";
  auto layout = cgroup::parse_layout(mountinfo, "4:memory:/runvm/c1\n0::/\n");
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  EXPECT_EQ(read_host_cgroup_memory(*layout),
            (HostCgroupMemory{121425920, 9223372036854771712ull}));
  // Not readable: nothing, rather than a made-up zero.
  unlink((dir + "/memory.usage_in_bytes").c_str());
  EXPECT_EQ(read_host_cgroup_memory(*layout), std::nullopt);
}

TEST(HostCgroupMemory, ReadsV2CurrentAndMax) {
  testing::TempDir mnt;
  std::ofstream(mnt.path() + "/cgroup.controllers") << "memory pids\n";
  std::string dir = mnt.path() + "/c2";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  std::ofstream(dir + "/memory.current") << "4096\n";
  std::ofstream(dir + "/memory.max") << "max\n";
  std::string mountinfo = "41 31 0:38 / " + mnt.path() + " rw,relatime - cgroup2 cgroup2 rw\n";
  auto layout = cgroup::parse_layout(mountinfo, "0::/c2\n");
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  EXPECT_EQ(read_host_cgroup_memory(*layout), (HostCgroupMemory{4096, 0}));
}

TEST(HostCgroupMemory, NoMemoryHierarchyIsNothing) {
  testing::TempDir mnt;
  std::string mountinfo = "32 31 0:29 / " + mnt.path() + " rw,relatime - cgroup cgroup rw,cpu\n";
  auto layout = cgroup::parse_layout(mountinfo, "1:cpu:/\n");
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  EXPECT_EQ(read_host_cgroup_memory(*layout), std::nullopt);
}

}  // namespace
}  // namespace runvm::cli
