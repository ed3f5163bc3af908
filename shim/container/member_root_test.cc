#include "shim/container/member_root.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

bool mounted_at_or_below(const std::string& dir) {
  std::string info = testing::read_file("/proc/self/mountinfo");
  return info.find(" " + dir + " ") != std::string::npos ||
         info.find(" " + dir + "/") != std::string::npos;
}

class MemberRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "bind mounts need root";
    rootfs_ = std::filesystem::canonical(rootfs_dir_.path()).string();
    std::ofstream(rootfs_ + "/file") << "r\n";
  }
  testing::TempDir pod_{"runvm-pod"}, rootfs_dir_{"runvm-rootfs"};
  std::string rootfs_;
};

TEST_F(MemberRootTest, BindsTheRootfsAndReleasesIt) {
  auto r = MemberRoot::bind(pod_.path(), "m1", rootfs_, "rootfs");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(testing::read_file(pod_.path() + "/m1/file"), "r\n");
  ASSERT_TRUE(r->seal_readonly().ok());
  int fd = open((pod_.path() + "/m1/new").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, EROFS);
  if (fd >= 0) close(fd);
  // The source itself stays writable: only the bind was sealed.
  std::ofstream(rootfs_ + "/other") << "o\n";
  EXPECT_EQ(testing::read_file(rootfs_ + "/other"), "o\n");
  r->release();
  EXPECT_FALSE(mounted_at_or_below(pod_.path()));
  EXPECT_FALSE(std::filesystem::exists(pod_.path() + "/m1"));
  EXPECT_EQ(testing::read_file(rootfs_ + "/file"), "r\n");
}

// A member's exit: unbound first (before its relay hears), its empty
// mountpoint removed by release() after.
TEST_F(MemberRootTest, UnbindLeavesTheEmptyDirForRelease) {
  auto r = MemberRoot::bind(pod_.path(), "m1", rootfs_, "rootfs");
  ASSERT_TRUE(r.ok()) << r.error().message;
  r->unbind();
  EXPECT_FALSE(r->bound());
  EXPECT_FALSE(mounted_at_or_below(pod_.path()));
  EXPECT_TRUE(std::filesystem::is_empty(pod_.path() + "/m1"));
  r->unbind();  // idempotent
  r->release();
  EXPECT_FALSE(std::filesystem::exists(pod_.path() + "/m1"));
  EXPECT_EQ(testing::read_file(rootfs_ + "/file"), "r\n");
}

// While bound, <id> is a mountpoint the guest cannot rename or remove
// (EBUSY from the shim's own renameat). Once the bind is gone from under
// the shim, though (detached from outside: `runvm delete`'s unmount_below,
// an admin), the guest may replace <id> with a symlink to a host mount:
// sealing and releasing must then act on the bind alone, and never
// remount, unmount or remove what the symlink names, as a path-based
// remount or umount2 (which follow it) did.
TEST_F(MemberRootTest, SealAndReleaseFollowNoSymlinkTheGuestPutAtTheRoot) {
  testing::TempDir host{"runvm-host"};
  std::string host_mnt = std::filesystem::canonical(host.path()).string();
  ASSERT_EQ(mount("tmpfs", host_mnt.c_str(), "tmpfs", 0, nullptr), 0) << strerror(errno);
  std::ofstream(host_mnt + "/file") << "host\n";
  auto r = MemberRoot::bind(pod_.path(), "m1", rootfs_, "rootfs");
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::string slot = pod_.path() + "/m1";
  ASSERT_NE(rename(slot.c_str(), (pod_.path() + "/moved").c_str()), 0);
  EXPECT_EQ(errno, EBUSY);
  ASSERT_EQ(umount2(slot.c_str(), MNT_DETACH), 0);
  ASSERT_EQ(rmdir(slot.c_str()), 0);
  ASSERT_EQ(symlink(host_mnt.c_str(), slot.c_str()), 0);
  (void)r->seal_readonly();  // on the detached bind, or refused: either way not the host's
  { std::ofstream(host_mnt + "/written") << "w\n"; }
  EXPECT_EQ(testing::read_file(host_mnt + "/written"), "w\n") << "the host's mount was sealed";
  r->release();
  EXPECT_TRUE(mounted_at_or_below(host_mnt)) << "the host's mount was unmounted";
  EXPECT_EQ(testing::read_file(host_mnt + "/file"), "host\n");
  // The symlink is left (not a directory): it was never followed.
  EXPECT_TRUE(std::filesystem::is_symlink(slot));
  EXPECT_EQ(testing::read_file(rootfs_ + "/file"), "r\n");
  umount2(host_mnt.c_str(), MNT_DETACH);
}

// A symlink the guest put at <id> before the bind is refused, and nothing
// is bound where it points.
TEST_F(MemberRootTest, AGuestPlantedSymlinkIsNotBoundOnto) {
  testing::TempDir host{"runvm-host"};
  std::string slot = pod_.path() + "/m1";
  ASSERT_EQ(symlink(host.path().c_str(), slot.c_str()), 0);
  auto r = MemberRoot::bind(pod_.path(), "m1", rootfs_, "rootfs");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "mkdir " + slot + ": File exists");
  EXPECT_FALSE(mounted_at_or_below(host.path()));
  EXPECT_TRUE(std::filesystem::is_symlink(slot));
}

TEST_F(MemberRootTest, ARootfsSwappedForASymlinkIsRefusedAndLeavesNothing) {
  std::filesystem::create_directory_symlink("/etc", rootfs_ + "/vol");
  auto r = MemberRoot::bind(pod_.path(), "m1", rootfs_ + "/vol", "rootfs");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("config.json: root.path: ", 0), 0u) << r.error().message;
  EXPECT_FALSE(mounted_at_or_below(pod_.path()));
  EXPECT_TRUE(std::filesystem::is_empty(pod_.path()));
}

}  // namespace
}  // namespace runvm
