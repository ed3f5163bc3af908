#include "runtime/released_cgroup.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace runvm::cli {
namespace {

using testing::read_file;

// cgroup v1 memory and cpu hierarchies mounted at temporary directories;
// cgroupfs offers a new cgroup's files at its mkdir, made here beforehand.
class ReleasedCgroup : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string mountinfo = "35 31 0:32 / " + memory_.path() +
                            " rw,relatime shared:5 - cgroup cgroup rw,memory\n" + "36 31 0:33 / " +
                            cpu_.path() + " rw,relatime shared:6 - cgroup cgroup rw,cpu\n";
    auto layout = cgroup::parse_layout(mountinfo, "5:memory:/\n4:cpu:/\n0::/\n");
    ASSERT_TRUE(layout.ok()) << layout.error().message;
    layout_ = *layout;
  }
  std::string offer(const testing::TempDir& mnt, const std::string& unit,
                    std::initializer_list<const char*> files) {
    std::string dir = mnt.path() + kReleasedCgroup + "/" + unit;
    std::filesystem::create_directories(dir);
    for (const char* f : files) std::ofstream(dir + "/" + f);
    std::ofstream(dir + "/cgroup.procs");
    return dir;
  }
  testing::TempDir memory_, cpu_;
  cgroup::Layout layout_;
};

// The container's cgroup as create and update left it.
TEST_F(ReleasedCgroup, TheUnitGetsTheContainersLimitsAndItsProcessesJoin) {
  std::filesystem::create_directories(memory_.path() + "/ctr");
  std::filesystem::create_directories(cpu_.path() + "/ctr");
  std::ofstream(memory_.path() + "/ctr/memory.limit_in_bytes") << "536870912\n";
  std::ofstream(cpu_.path() + "/ctr/cpu.shares") << "512\n";
  std::ofstream(cpu_.path() + "/ctr/cpu.cfs_quota_us") << "50000\n";
  std::ofstream(cpu_.path() + "/ctr/cpu.cfs_period_us") << "100000\n";
  std::string mem = offer(memory_, "u1", {"memory.limit_in_bytes"});
  std::string cpu = offer(cpu_, "u1", {"cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"});
  ASSERT_TRUE(place_released_in(layout_, "/ctr", "u1", {getpid()}).ok());
  EXPECT_EQ(read_file(mem + "/memory.limit_in_bytes"), "536870912");
  EXPECT_EQ(read_file(cpu + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(read_file(cpu + "/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(read_file(cpu + "/cpu.shares"), "512");
  EXPECT_EQ(read_file(mem + "/cgroup.procs"), std::to_string(getpid()));
  EXPECT_EQ(read_file(cpu + "/cgroup.procs"), std::to_string(getpid()));
}

// cgroup v1's cpuset: the container's cgroup has the cpus and mems its
// parent had at its create (or a cpuset asked for); the unit's, made under
// /runvm-released, has the root's until they are copied.
TEST(ReleasedCpuset, TheUnitGetsTheContainersCpusAndMems) {
  testing::TempDir mnt;
  auto layout = cgroup::parse_layout(
      "37 31 0:34 / " + mnt.path() + " rw,relatime shared:7 - cgroup cgroup rw,cpuset\n",
      "3:cpuset:/\n0::/\n");
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  std::string released = mnt.path() + kReleasedCgroup;
  for (const std::string& dir : {mnt.path() + "/ctr", released + "/u3"})
    std::filesystem::create_directories(dir);
  for (const std::string& dir : {mnt.path(), released, released + "/u3"}) {
    std::ofstream(dir + "/cpuset.cpus") << (dir == mnt.path() ? "0-3\n" : "");
    std::ofstream(dir + "/cpuset.mems") << (dir == mnt.path() ? "0-1\n" : "");
    std::ofstream(dir + "/cgroup.procs");
  }
  std::ofstream(mnt.path() + "/ctr/cpuset.cpus") << "2\n";
  std::ofstream(mnt.path() + "/ctr/cpuset.mems") << "1\n";
  ASSERT_TRUE(place_released_in(*layout, "/ctr", "u3", {getpid()}).ok());
  EXPECT_EQ(read_file(released + "/u3/cpuset.cpus"), "2");
  EXPECT_EQ(read_file(released + "/u3/cpuset.mems"), "1");
  EXPECT_EQ(read_file(released + "/u3/cgroup.procs"), std::to_string(getpid()));
}

// cgroup v2's cpuset: a container's cgroup under a pinned slice has the
// slice's cpus and mems in force, its own empty (inherited) or wider than
// the slice allows; the unit's, under /runvm-released, would have the
// root's: the effective sets are copied.
TEST(ReleasedCpuset, V2CopiesTheEffectiveSets) {
  testing::TempDir mnt;
  std::ofstream(mnt.path() + "/cgroup.controllers") << "cpuset cpu memory\n";
  auto layout = cgroup::parse_layout(
      "38 31 0:35 / " + mnt.path() + " rw,relatime - cgroup2 cgroup2 rw\n", "0::/\n");
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  ASSERT_EQ(layout->mode, cgroup::Mode::kV2);
  std::string slice = mnt.path() + "/pinned.slice", released = mnt.path() + kReleasedCgroup;
  struct Case {
    const char* name;
    const char* cpus;  // the container's own, as it wrote them
    const char* mems;
  };
  for (const Case& c : {Case{"inherits", "", ""}, Case{"wider", "0-7", "0-1"}}) {
    std::string ctr = slice + "/" + c.name, unit = released + "/" + c.name;
    for (const std::string& dir : {ctr, unit}) std::filesystem::create_directories(dir);
    std::ofstream(ctr + "/cpuset.cpus") << c.cpus << "\n";
    std::ofstream(ctr + "/cpuset.mems") << c.mems << "\n";
    std::ofstream(ctr + "/cpuset.cpus.effective") << "1-2\n";
    std::ofstream(ctr + "/cpuset.mems.effective") << "0\n";
    for (const char* f : {"cpuset.cpus", "cpuset.mems", "cgroup.procs"})
      std::ofstream(unit + "/" + f);
    ASSERT_TRUE(
        place_released_in(*layout, "/pinned.slice/" + std::string(c.name), c.name, {getpid()}).ok())
        << c.name;
    EXPECT_EQ(read_file(unit + "/cpuset.cpus"), "1-2") << c.name;
    EXPECT_EQ(read_file(unit + "/cpuset.mems"), "0") << c.name;
    EXPECT_EQ(read_file(unit + "/cgroup.procs"), std::to_string(getpid())) << c.name;
  }
}

// A limit it cannot set is an error (its caller then ends the unit rather
// than leave it unbounded), as is a name that is no unit's.
TEST_F(ReleasedCgroup, ALimitThatCannotBeSetFails) {
  std::filesystem::create_directories(memory_.path() + "/ctr");
  std::ofstream(memory_.path() + "/ctr/memory.limit_in_bytes") << "536870912\n";
  offer(memory_, "u2", {});
  offer(cpu_, "u2", {});
  auto s = place_released_in(layout_, "/ctr", "u2", {getpid()});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("memory.limit_in_bytes"), std::string::npos)
      << s.error().message;
  EXPECT_FALSE(place_released_in(layout_, "/ctr", "../u2", {getpid()}).ok());
}

// Empty released cgroups go; one still holding something stays.
TEST_F(ReleasedCgroup, TheSweepRemovesOnlyEmptyOnes) {
  std::string busy = offer(memory_, "busy", {});
  std::string ended = memory_.path() + kReleasedCgroup + "/ended";
  ASSERT_EQ(mkdir(ended.c_str(), 0755), 0);
  sweep_released_cgroups(layout_);
  struct stat st;
  EXPECT_NE(stat(ended.c_str(), &st), 0);
  EXPECT_EQ(stat(busy.c_str(), &st), 0);
}

}  // namespace
}  // namespace runvm::cli
