#include "guest/agent/container_cgroup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm::agent {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A directory standing in for a cgroup2 root: plain files take the writes.
class ContainerCgroupTest : public ::testing::Test {
 protected:
  void controllers(const std::string& list) {
    std::ofstream(root_ + "/cgroup.controllers") << list << "\n";
    std::ofstream(root_ + "/cgroup.subtree_control");
  }
  testing::TempDir tmp_{"runvm-cgroup-test"};
  const std::string root_ = tmp_.path();
};

TEST_F(ContainerCgroupTest, NoHierarchyRefusesLimits) {
  proto::LinuxSpec spec;
  auto none = ContainerCgroup::create("", "c1", spec);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->path(), "");
  spec.pids_limit = 10;
  auto refused = ContainerCgroup::create("", "c1", spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "linux.resources.pids: the guest kernel has no pids cgroup controller");
  EXPECT_TRUE(enter_cgroup("").ok());
}

TEST_F(ContainerCgroupTest, MissingControllersAreClearErrors) {
  controllers("cpu memory");
  proto::LinuxSpec spec;
  spec.hugepage_limits = {{"2MB", 0}};
  auto r = ContainerCgroup::create(root_, "c1", spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "linux.resources.hugepageLimits: the guest kernel has no hugetlb cgroup controller");
  EXPECT_FALSE(fs::exists(root_ + "/runvm-c1"));
}

TEST_F(ContainerCgroupTest, LimitsAreWrittenAndTheDirectoryGoes) {
  controllers("pids hugetlb");
  // The files the kernel would create with the directory.
  fs::create_directories(root_ + "/runvm-c1");
  for (const char* f : {"pids.max", "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max"})
    std::ofstream(root_ + "/runvm-c1/" + f);
  proto::LinuxSpec spec;
  spec.pids_limit = 42;
  spec.hugepage_limits = {{"2MB", 4194304}};
  {
    auto cg = ContainerCgroup::create(root_, "c1", spec);
    ASSERT_TRUE(cg.ok()) << cg.error().message;
    EXPECT_EQ(cg->path(), root_ + "/runvm-c1");
    EXPECT_EQ(slurp(root_ + "/runvm-c1/pids.max"), "42");
    EXPECT_EQ(slurp(root_ + "/runvm-c1/hugetlb.2MB.max"), "4194304");
    EXPECT_EQ(slurp(root_ + "/runvm-c1/hugetlb.2MB.rsvd.max"), "4194304");
    spec.pids_limit = -1;
    ASSERT_TRUE(ContainerCgroup::create(root_, "c1", spec).ok());
    EXPECT_EQ(slurp(root_ + "/runvm-c1/pids.max"), "max");
  }
  spec.hugepage_limits = {{"1GB", 1}};
  auto big = ContainerCgroup::create(root_, "c1", spec);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message,
            "linux.resources.hugepageLimits[0].pageSize: the guest kernel has no 1GB huge pages");
}

TEST_F(ContainerCgroupTest, EmptyDirectoryIsRemoved) {
  controllers("pids");
  {
    auto cg = ContainerCgroup::create(root_, "c2", {});
    ASSERT_TRUE(cg.ok()) << cg.error().message;
    EXPECT_TRUE(fs::is_directory(root_ + "/runvm-c2"));
  }
  EXPECT_FALSE(fs::exists(root_ + "/runvm-c2"));
}

// Several containers per VM: every id gets its own cgroup, long ones too.
TEST(CgroupName, UniquePerIdWithinNameMax) {
  EXPECT_EQ(cgroup_name("c1"), "runvm-c1");
  std::string fits(249, 'a');
  EXPECT_EQ(cgroup_name(fits), "runvm-" + fits);
  std::string a = std::string(250, 'x') + "a", b = std::string(250, 'x') + "b";
  EXPECT_NE(cgroup_name(a), cgroup_name(b));
  EXPECT_EQ(cgroup_name(a), cgroup_name(a));
  EXPECT_LE(cgroup_name(std::string(256, 'z')).size(), 255u);
}

}  // namespace
}  // namespace runvm::agent
