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

TEST_F(ContainerCgroupTest, MemoryAndCpuLimitsAreWritten) {
  controllers("cpu memory pids");
  fs::create_directories(root_ + "/runvm-c3");
  for (const char* f : {"memory.max", "cpu.max", "cpu.weight"})
    std::ofstream(root_ + "/runvm-c3/" + f);
  proto::LinuxSpec spec;
  spec.memory_limit = 128ull << 20;
  spec.cpu_quota = 150000;
  spec.cpu_period = 100000;
  spec.cpu_weight = 39;
  {
    auto cg = ContainerCgroup::create(root_, "c3", spec, 1ull << 30);
    ASSERT_TRUE(cg.ok()) << cg.error().message;
    EXPECT_EQ(slurp(root_ + "/runvm-c3/memory.max"), std::to_string(128ull << 20));
    EXPECT_EQ(slurp(root_ + "/runvm-c3/cpu.max"), "150000 100000");
    EXPECT_EQ(slurp(root_ + "/runvm-c3/cpu.weight"), "39");
    EXPECT_EQ(cg->oom_kills(), 0u);  // no memory.events
    std::ofstream(root_ + "/runvm-c3/memory.events")
        << "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
    EXPECT_EQ(cg->oom_kills(), 1u);
    // The freezer: the request written, the state read from cgroup.events.
    std::ofstream(root_ + "/runvm-c3/cgroup.freeze") << "0";
    ASSERT_TRUE(cg->set_frozen(true).ok());
    EXPECT_EQ(slurp(root_ + "/runvm-c3/cgroup.freeze"), "1");
    EXPECT_FALSE(cg->frozen().ok());  // no cgroup.events
    std::ofstream(root_ + "/runvm-c3/cgroup.events") << "populated 1\nfrozen 0\n";
    ASSERT_TRUE(cg->frozen().ok());
    EXPECT_FALSE(*cg->frozen());
    std::ofstream(root_ + "/runvm-c3/cgroup.events") << "populated 1\nfrozen 1\n";
    EXPECT_TRUE(*cg->frozen());
    std::ofstream(root_ + "/runvm-c3/cgroup.events") << "populated 1\nfrozen 7\n";
    EXPECT_FALSE(cg->frozen().ok());
    ASSERT_TRUE(cg->set_frozen(false).ok());
    EXPECT_EQ(slurp(root_ + "/runvm-c3/cgroup.freeze"), "0");
  }
  // No limit: still capped under the guest's RAM; a quota alone takes the
  // kernel's default period, a period alone keeps the quota unlimited.
  proto::LinuxSpec none;
  none.cpu_quota = 50000;
  // Taken over frozen (its container ended paused): thawed for the new one.
  std::ofstream(root_ + "/runvm-c3/cgroup.freeze") << "1";
  ASSERT_TRUE(ContainerCgroup::create(root_, "c3", none, 1ull << 30).ok());
  EXPECT_EQ(slurp(root_ + "/runvm-c3/cgroup.freeze"), "0");
  EXPECT_EQ(slurp(root_ + "/runvm-c3/memory.max"), std::to_string((1ull << 30) - (32ull << 20)));
  EXPECT_EQ(slurp(root_ + "/runvm-c3/cpu.max"), "50000 100000");
  none.cpu_quota = -1;
  none.cpu_period = 200000;
  ASSERT_TRUE(ContainerCgroup::create(root_, "c3", none, 1ull << 30).ok());
  EXPECT_EQ(slurp(root_ + "/runvm-c3/cpu.max"), "max 200000");
}

// runvm update --memory: memory.max follows the new limit, capped under the
// guest's new (ballooned) RAM; no cgroup is one line naming the field.
TEST_F(ContainerCgroupTest, MemoryMaxIsUpdatedLive) {
  controllers("memory");
  fs::create_directories(root_ + "/runvm-c5");
  std::ofstream(root_ + "/runvm-c5/memory.max");
  proto::LinuxSpec spec;
  spec.memory_limit = 512ull << 20;
  auto cg = ContainerCgroup::create(root_, "c5", spec, 1ull << 30);
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  EXPECT_EQ(slurp(root_ + "/runvm-c5/memory.max"), std::to_string(512ull << 20));
  ASSERT_TRUE(cg->set_memory_max(256ull << 20, 1ull << 30).ok());
  EXPECT_EQ(slurp(root_ + "/runvm-c5/memory.max"), std::to_string(256ull << 20));
  ASSERT_TRUE(cg->set_memory_max(std::nullopt, 256ull << 20).ok());
  EXPECT_EQ(slurp(root_ + "/runvm-c5/memory.max"), std::to_string((256ull << 20) - (16ull << 20)));
  auto none = ContainerCgroup::create("", "c5", {});
  ASSERT_TRUE(none.ok());
  auto refused = none->set_memory_max(1ull << 20, 1ull << 30);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "memory.limit: the guest has no cgroups");
}

// runvm update --cpu-quota/--cpu-share/--pids-limit: the files follow; what
// is absent stays; no limit is "max"; a missing file names the field.
TEST_F(ContainerCgroupTest, CpuAndPidsAreUpdatedLive) {
  controllers("cpu pids");
  fs::create_directories(root_ + "/runvm-c6");
  for (const char* f : {"cpu.max", "cpu.weight", "pids.max"})
    std::ofstream(root_ + "/runvm-c6/" + f) << "unchanged";
  auto cg = ContainerCgroup::create(root_, "c6", {});
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  ASSERT_TRUE(cg->update({1, "c6", 50000, 100000, std::nullopt, 20}).ok());
  EXPECT_EQ(slurp(root_ + "/runvm-c6/cpu.max"), "50000 100000");
  EXPECT_EQ(slurp(root_ + "/runvm-c6/cpu.weight"), "unchanged");
  EXPECT_EQ(slurp(root_ + "/runvm-c6/pids.max"), "20");
  ASSERT_TRUE(cg->update({2, "c6", -1, 20000, 39, -1}).ok());
  EXPECT_EQ(slurp(root_ + "/runvm-c6/cpu.max"), "max 20000");
  EXPECT_EQ(slurp(root_ + "/runvm-c6/cpu.weight"), "39");
  EXPECT_EQ(slurp(root_ + "/runvm-c6/pids.max"), "max");
  fs::remove(root_ + "/runvm-c6/pids.max");
  auto missing = cg->update({3, "c6", std::nullopt, std::nullopt, std::nullopt, 5});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message.rfind("pids.limit: open ", 0), 0u) << missing.error().message;
  auto none = ContainerCgroup::create("", "c6", {});
  ASSERT_TRUE(none.ok());
  auto refused = none->update({4, "c6", std::nullopt, std::nullopt, std::nullopt, 5});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "the guest has no cgroups");
}

TEST_F(ContainerCgroupTest, MissingMemoryOrCpuControllerIsAClearError) {
  controllers("pids");
  proto::LinuxSpec spec;
  spec.memory_limit = 1 << 20;
  auto m = ContainerCgroup::create(root_, "c4", spec);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message,
            "linux.resources.memory: the guest kernel has no memory cgroup controller");
  proto::LinuxSpec cpu;
  cpu.cpu_weight = 5;
  auto c = ContainerCgroup::create(root_, "c4", cpu);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message,
            "linux.resources.cpu: the guest kernel has no cpu cgroup controller");
}

TEST(ContainerMemoryMax, LimitCappedUnderTheGuestRam) {
  constexpr uint64_t MiB = 1 << 20;
  // 16 MiB kept for the agent and the kernel, or 1/32 of larger guests.
  EXPECT_EQ(container_memory_max(std::nullopt, 117 * MiB), 101 * MiB);
  EXPECT_EQ(container_memory_max(128 * MiB, 117 * MiB), 101 * MiB);
  EXPECT_EQ(container_memory_max(64 * MiB, 117 * MiB), 64 * MiB);
  EXPECT_EQ(container_memory_max(std::nullopt, 2048 * MiB), 1984 * MiB);
  EXPECT_EQ(container_memory_max(std::nullopt, 20 * MiB), 10 * MiB);
}

TEST(ContainerMemoryMax, OomKillsParsing) {
  EXPECT_EQ(parse_oom_kills("low 0\noom 3\noom_kill 2\n"), 2u);
  EXPECT_EQ(parse_oom_kills("oom_kill 0"), 0u);
  EXPECT_FALSE(parse_oom_kills(""));
  EXPECT_FALSE(parse_oom_kills("oom 1\n"));
  EXPECT_FALSE(parse_oom_kills("oom_kill x\n"));
  EXPECT_FALSE(parse_oom_kills("oom_kill 99999999999999999999999\n"));
  EXPECT_FALSE(parse_oom_kills("oom_killx 1\n"));
  EXPECT_EQ(parse_events_value("populated 0\nfrozen 1\n", "frozen"), 1u);
  EXPECT_FALSE(parse_events_value("frozen\n", "frozen"));
  EXPECT_FALSE(parse_events_value("frozen \n", "frozen"));
}

// A cgroup made ahead (an idle pool unit's): the first create adopts it
// under its own name, with its limits; later ones make their own.
TEST_F(ContainerCgroupTest, SpareIsAdoptedOnceAndRemovedWhenUnused) {
  controllers("pids");
  {
    CgroupSpare spare;
    ASSERT_TRUE(spare.make(root_).ok());
    EXPECT_EQ(slurp(root_ + "/cgroup.subtree_control"), "+pids");
    ASSERT_TRUE(fs::is_directory(root_ + "/spare-1"));
    std::ofstream(root_ + "/spare-1/pids.max");
    proto::LinuxSpec spec;
    spec.pids_limit = 7;
    auto first = ContainerCgroup::create(root_, "c1", spec, 0, &spare);
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(first->path(), root_ + "/spare-1");
    EXPECT_EQ(slurp(root_ + "/spare-1/pids.max"), "7");
    EXPECT_FALSE(fs::exists(root_ + "/runvm-c1"));
    auto second = ContainerCgroup::create(root_, "c2", {}, 0, &spare);
    ASSERT_TRUE(second.ok()) << second.error().message;
    EXPECT_EQ(second->path(), root_ + "/runvm-c2");
    fs::remove(root_ + "/spare-1/pids.max");  // a real cgroup's rmdir ignores its files
  }
  EXPECT_FALSE(fs::exists(root_ + "/spare-1"));
  {
    CgroupSpare unused;
    ASSERT_TRUE(unused.make(root_).ok());
    EXPECT_TRUE(fs::is_directory(root_ + "/spare-1"));
  }
  EXPECT_FALSE(fs::exists(root_ + "/spare-1"));
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
