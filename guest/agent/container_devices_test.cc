#include "guest/agent/container_devices.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/require.h"
#include "tests/support/temp_dir.h"

namespace runvm::agent {
namespace {

namespace fs = std::filesystem;

class ContainerDevicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_ROOT("mknod");
    fs::create_directories(root_ + "/dev");
  }
  struct stat lstat_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat((root_ + path).c_str(), &st), 0) << path;
    return st;
  }
  testing::TempDir tmp_{"runvm-devices-test"};
  const std::string root_ = tmp_.path();
  // A /dev/shm mount in the config keeps populate_dev from mounting one here.
  const std::vector<proto::Mount> shm_ = {{"/dev/shm", "tmpfs", "shm", "", {}}};
};

TEST_F(ContainerDevicesTest, ConfigDevicesDefaultsAndLinks) {
  std::vector<proto::Device> devices = {
      {"c", "/dev/fuse", 10, 229, 0600, 1000, 1001},
      {"b", "/dev/disks/vdb", 254, 16, 0640, 0, 6},
      {"p", "/dev/pipe", 0, 0, 0622, 0, 0},
      {"u", "/dev/null", 1, 3, 0600, 0, 0},  // the config's wins over the default
  };
  ::umask(077);  // must not leak into the modes
  ASSERT_TRUE(populate_dev(root_, devices, shm_, -1).ok());
  ::umask(022);
  struct stat fuse = lstat_of("/dev/fuse");
  EXPECT_TRUE(S_ISCHR(fuse.st_mode));
  EXPECT_EQ(fuse.st_mode & 07777, 0600u);
  EXPECT_EQ(fuse.st_rdev, makedev(10, 229));
  EXPECT_EQ(fuse.st_uid, 1000u);
  EXPECT_EQ(fuse.st_gid, 1001u);
  struct stat vdb = lstat_of("/dev/disks/vdb");
  EXPECT_TRUE(S_ISBLK(vdb.st_mode));
  EXPECT_EQ(vdb.st_rdev, makedev(254, 16));
  EXPECT_EQ(vdb.st_gid, 6u);
  struct stat pipe = lstat_of("/dev/pipe");
  EXPECT_TRUE(S_ISFIFO(pipe.st_mode));
  EXPECT_EQ(pipe.st_mode & 07777, 0622u);
  EXPECT_EQ(lstat_of("/dev/null").st_mode & 07777, 0600u);
  for (const char* d : {"/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom"}) {
    struct stat st = lstat_of(d);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << d;
    EXPECT_EQ(st.st_mode & 07777, 0666u) << d;
  }
  EXPECT_EQ(lstat_of("/dev/tty").st_rdev, makedev(5, 0));
  EXPECT_EQ(fs::read_symlink(root_ + "/dev/ptmx"), "pts/ptmx");
  EXPECT_EQ(fs::read_symlink(root_ + "/dev/fd"), "/proc/self/fd");
  EXPECT_EQ(fs::read_symlink(root_ + "/dev/stderr"), "/proc/self/fd/2");
  EXPECT_FALSE(fs::exists(root_ + "/dev/console"));
  // Again (an exec never does this, but a second pass must not fail).
  EXPECT_TRUE(populate_dev(root_, devices, shm_, -1).ok());
}

// The umask is cleared for mknod alone; set-id bits, which the chown after it
// may clear, are set again.
TEST_F(ContainerDevicesTest, ModesAreExactUnderAnyUmask) {
  std::vector<proto::Device> devices = {
      {"c", "/dev/setid", 1, 3, 06755, 1000, 1000},
      {"c", "/dev/sub/dir/x", 1, 3, 0777, 0, 0},
  };
  ::umask(027);
  ASSERT_TRUE(populate_dev(root_, devices, shm_, -1).ok());
  EXPECT_EQ(::umask(022), 027u);  // given back
  EXPECT_EQ(lstat_of("/dev/setid").st_mode & 07777, 06755u);
  EXPECT_EQ(lstat_of("/dev/setid").st_uid, 1000u);
  EXPECT_EQ(lstat_of("/dev/sub/dir/x").st_mode & 07777, 0777u);
  EXPECT_EQ(lstat_of("/dev/sub").st_mode & 07777, 0755u);
  ::umask(077);
  ASSERT_TRUE(make_device(root_, {"c", "/dev/one", 1, 5, 0666, 0, 0}).ok());
  EXPECT_EQ(::umask(022), 077u);
  EXPECT_EQ(lstat_of("/dev/one").st_mode & 07777, 0666u);
}

TEST_F(ContainerDevicesTest, ABindMountedDevIsLeftAlone) {
  std::vector<proto::Mount> mounts = {{"/dev/", "bind", "", "bind0", {"rbind"}}};
  EXPECT_FALSE(sets_up_dev(mounts));
  EXPECT_TRUE(sets_up_dev(shm_));
  ASSERT_TRUE(populate_dev(root_, {{"c", "/dev/fuse", 10, 229, 0600, 0, 0}}, mounts, -1).ok());
  EXPECT_TRUE(fs::is_empty(root_ + "/dev"));
}

TEST_F(ContainerDevicesTest, FailuresNameTheDevice) {
  ::close(::creat((root_ + "/dev/plain").c_str(), 0644));
  auto s = make_device(root_, {"c", "/dev/plain/x", 1, 3, 0666, 0, 0});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("/dev/plain"), std::string::npos) << s.error().message;
  auto p = populate_dev(root_, {{"c", "/dev/plain/x", 1, 3, 0666, 0, 0}}, shm_, -1);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message.rfind("linux.devices[0]: ", 0), 0u) << p.error().message;
}

}  // namespace
}  // namespace runvm::agent
