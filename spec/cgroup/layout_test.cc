#include "spec/cgroup/layout.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/require.h"
#include "tests/support/temp_dir.h"

namespace runvm::cgroup {
namespace {

using Names = std::vector<std::string>;

// A cgroup2 mountpoint whose root lists `controllers`.
std::string fake_v2(const testing::TempDir& dir, const std::string& controllers) {
  std::ofstream(dir.path() + "/cgroup.controllers") << controllers << "\n";
  return dir.path();
}

TEST(CgroupLayout, HybridAsOnThisMachine) {
  testing::TempDir unified;
  std::string mnt = fake_v2(unified, "hugetlb");
  std::string mountinfo =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
      "41 31 0:38 / " +
      mnt + " rw,relatime - cgroup2 cgroup2 rw\n";
  std::string self = "9:name=systemd:/\n4:memory:/process_api/1f80\n2:cpuacct:/\n1:cpu:/\n0::/\n";
  auto l = parse_layout(mountinfo, self);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->mode, Mode::kHybrid);
  ASSERT_EQ(l->hierarchies.size(), 5u);
  const Hierarchy* memory = l->with("memory");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->version, 1);
  EXPECT_EQ(memory->mountpoint, "/sys/fs/cgroup/memory");
  EXPECT_EQ(memory->own, "/process_api/1f80");
  EXPECT_EQ(l->with("name=systemd")->controllers, Names{"name=systemd"});
  const Hierarchy* hugetlb = l->with("hugetlb");
  ASSERT_TRUE(hugetlb);
  EXPECT_EQ(hugetlb->version, 2);
  EXPECT_EQ(hugetlb->mountpoint, mnt);
  EXPECT_EQ(hugetlb->own, "/");
  EXPECT_FALSE(l->with("pids"));
}

TEST(CgroupLayout, UnifiedV2) {
  testing::TempDir root;
  std::string mnt = fake_v2(root, "cpuset cpu io memory hugetlb pids");
  auto l =
      parse_layout("30 23 0:26 / " + mnt +
                       " rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
                   "0::/user.slice/session-1.scope\n");
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->mode, Mode::kV2);
  ASSERT_EQ(l->hierarchies.size(), 1u);
  EXPECT_EQ(l->hierarchies[0].controllers,
            (Names{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}));
  EXPECT_EQ(l->with("memory"), &l->hierarchies[0]);
  EXPECT_EQ(l->hierarchies[0].own, "/user.slice/session-1.scope");
}

TEST(CgroupLayout, V1CombinedControllersBindMountsAndEscapes) {
  auto l = parse_layout(
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu\n"
      "33 31 0:29 / /mnt/again rw - cgroup cgroup rw,cpu,cpuacct\n"
      "34 31 0:30 /docker/abc /sys/fs/cgroup/my\\040pids rw - cgroup cgroup rw,pids\n"
      "bogus line\n",
      "3:cpu,cpuacct:/a/b\n2:pids:/docker/abc/inner\n");
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->mode, Mode::kV1);
  ASSERT_EQ(l->hierarchies.size(), 2u);  // the bind mount of cpu,cpuacct counts once
  const Hierarchy* cpu = l->with("cpuacct");
  EXPECT_EQ(cpu, l->with("cpu"));
  EXPECT_EQ(cpu->controllers, (Names{"cpu", "cpuacct"}));
  EXPECT_EQ(cpu->mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(cpu->own, "/a/b");
  const Hierarchy* pids = l->with("pids");
  EXPECT_EQ(pids->mountpoint, "/sys/fs/cgroup/my pids");
  EXPECT_EQ(pids->root, "/docker/abc");
  EXPECT_EQ(pids->own, "/inner");  // relative to what is mounted there
}

TEST(CgroupLayout, NoCgroupsIsAnError) {
  auto l = parse_layout("22 1 0:21 / /proc rw - proc proc rw\n", "");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().message, "no cgroup hierarchy is mounted");
}

TEST(CgroupLayout, ThisProcess) {
  auto l = detect_layout();
  RUNVM_REQUIRE(l.ok(), "a mounted cgroup hierarchy: " << (l.ok() ? "" : l.error().message));
  for (const auto& h : l->hierarchies) {
    EXPECT_TRUE(h.version == 1 || h.version == 2);
    EXPECT_TRUE(h.own.starts_with("/")) << h.mountpoint;
  }
}

}  // namespace
}  // namespace runvm::cgroup
