#include "shim/container/member_binds.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

bool mounted_below(const std::string& dir) {
  return testing::read_file("/proc/self/mountinfo").find(dir + "/") != std::string::npos;
}

class MemberBindsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "bind mounts need root";
    std::ofstream(src_.path() + "/file") << "f\n";
    std::filesystem::create_directory(src_.path() + "/dir");
    std::ofstream(src_.path() + "/dir/inside") << "i\n";
  }
  testing::TempDir pod_{"runvm-pod"}, src_{"runvm-src"};
};

TEST_F(MemberBindsTest, BindsSourcesUnderTheirNamesAndReleasesThem) {
  std::vector<oci::Mount> mounts = {
      {"/proc", "proc", "proc", {}},
      {"/data", "bind", src_.path() + "/dir", {"rbind", "ro"}},
      {"/etc/hosts", "", src_.path() + "/file", {"bind"}},
  };
  std::vector<proto::Mount> out;
  auto b = MemberBinds::bind(pod_.path(), "m1", "pod", mounts, out);
  ASSERT_TRUE(b.ok()) << b.error().message;
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].share, "");
  EXPECT_EQ(out[0].source, "proc");
  EXPECT_EQ(out[1].share, "pod");
  EXPECT_EQ(out[1].source, "@binds/m1/1/dir");
  EXPECT_EQ(out[2].source, "@binds/m1/2/file");
  EXPECT_EQ(out[2].destination, "/etc/hosts");
  EXPECT_EQ(testing::read_file(pod_.path() + "/@binds/m1/1/dir/inside"), "i\n");
  EXPECT_EQ(testing::read_file(pod_.path() + "/@binds/m1/2/file"), "f\n");
  // Read-only on the host too: the share's writes fail there.
  int fd = open((pod_.path() + "/@binds/m1/1/dir/new").c_str(), O_CREAT | O_WRONLY, 0600);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, EROFS);
  if (fd >= 0) close(fd);
  b->release();
  EXPECT_FALSE(mounted_below(pod_.path()));
  EXPECT_FALSE(std::filesystem::exists(pod_.path() + "/@binds/m1"));
  // The sources are untouched.
  EXPECT_EQ(testing::read_file(src_.path() + "/dir/inside"), "i\n");
  EXPECT_EQ(testing::read_file(src_.path() + "/file"), "f\n");
}

// A member's exit: unbound first (before its relay hears), the slots
// removed by release() after.
TEST_F(MemberBindsTest, UnbindLeavesTheSlotsForRelease) {
  std::vector<proto::Mount> out;
  auto b = MemberBinds::bind(pod_.path(), "m1", "pod",
                             {{"/data", "bind", src_.path() + "/dir", {"rbind"}},
                              {"/etc/hosts", "", src_.path() + "/file", {"bind"}}},
                             out);
  ASSERT_TRUE(b.ok()) << b.error().message;
  b->unbind();
  EXPECT_FALSE(mounted_below(pod_.path()));
  // The slots stay, emptied of what was bound there.
  EXPECT_TRUE(std::filesystem::exists(pod_.path() + "/@binds/m1/1"));
  EXPECT_FALSE(std::filesystem::exists(pod_.path() + "/@binds/m1/1/dir/inside"));
  EXPECT_FALSE(std::filesystem::exists(pod_.path() + "/@binds/m1/2/file") &&
               testing::read_file(pod_.path() + "/@binds/m1/2/file") == "f\n");
  b->unbind();  // idempotent
  b->release();
  EXPECT_FALSE(std::filesystem::exists(pod_.path() + "/@binds/m1"));
  EXPECT_EQ(testing::read_file(src_.path() + "/dir/inside"), "i\n");
  EXPECT_EQ(testing::read_file(src_.path() + "/file"), "f\n");
}

// The pod dir is the guest's to write in: an @binds it replaced with a
// symlink (to a host directory) is refused, and nothing is made or bound
// where it points.
TEST_F(MemberBindsTest, AGuestPlantedSymlinkIsNotFollowed) {
  testing::TempDir elsewhere("runvm-elsewhere");
  std::filesystem::create_directory_symlink(elsewhere.path(), pod_.path() + "/@binds");
  std::vector<proto::Mount> out;
  auto b = MemberBinds::bind(pod_.path(), "m1", "pod",
                             {{"/data", "bind", src_.path() + "/dir", {"rbind"}}}, out);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, pod_.path() + "/@binds: is a symlink");
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere.path()));
  EXPECT_FALSE(mounted_below(elsewhere.path()));
}

// A source swapped for a symlink after load_bundle resolved it.
TEST_F(MemberBindsTest, ASourceSwappedForASymlinkIsRefused) {
  std::string real = std::filesystem::canonical(src_.path()).string();
  std::filesystem::create_directory_symlink("/etc", real + "/vol");
  std::vector<proto::Mount> out;
  auto b = MemberBinds::bind(pod_.path(), "m1", "pod",
                             {{"/data", "bind", real + "/vol", {"rbind"}}}, out);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message,
            "mounts[0].source: " + real + "/vol is a symlink: changed since it was resolved");
  EXPECT_FALSE(mounted_below(pod_.path()));
}

// The guest may rename what is in the pod dir and put a symlink to a host
// directory where a slot was: release() must still unmount the real bind
// and never remove (or unmount) what the symlink names.
TEST_F(MemberBindsTest, ReleaseFollowsNoSlotTheGuestMovedOrReplaced) {
  testing::TempDir host{"runvm-host"};
  std::ofstream(host.path() + "/file") << "host\n";
  std::vector<oci::Mount> mounts = {{"/etc/hosts", "bind", src_.path() + "/file", {"bind"}}};
  std::vector<proto::Mount> out;
  auto b = MemberBinds::bind(pod_.path(), "m1", "pod", mounts, out);
  ASSERT_TRUE(b.ok()) << b.error().message;
  std::string slot = pod_.path() + "/@binds/m1/0";
  ASSERT_EQ(rename(slot.c_str(), (pod_.path() + "/moved").c_str()), 0);
  ASSERT_EQ(symlink(host.path().c_str(), slot.c_str()), 0);
  b->release();
  EXPECT_EQ(testing::read_file(host.path() + "/file"), "host\n");
  EXPECT_FALSE(mounted_below(pod_.path()));
  EXPECT_EQ(testing::read_file(src_.path() + "/file"), "f\n");
}

TEST_F(MemberBindsTest, AMissingSourceFailsAndLeavesNothing) {
  std::vector<oci::Mount> mounts = {
      {"/data", "bind", src_.path() + "/dir", {"rbind"}},
      {"/x", "bind", src_.path() + "/missing", {"rbind"}},
  };
  std::vector<proto::Mount> out;
  auto b = MemberBinds::bind(pod_.path(), "m1", "pod", mounts, out);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "mounts[1].source: \"" + src_.path() + "/missing\" does not exist");
  EXPECT_FALSE(mounted_below(pod_.path()));
  EXPECT_FALSE(std::filesystem::exists(pod_.path() + "/@binds/m1"));
}

TEST_F(MemberBindsTest, NoBindsMakeNothing) {
  std::vector<proto::Mount> out;
  auto b = MemberBinds::bind(pod_.path(), "m1", "pod", {{"/proc", "proc", "proc", {}}}, out);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::filesystem::is_empty(pod_.path()));
}

}  // namespace
}  // namespace runvm
