#include "runtime/container_dir.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "tests/support/temp_dir.h"

namespace runvm::cli {
namespace {

bool mounted(const std::string& point) {
  for (const auto& p : mounts_below(point))
    if (p == point) return true;
  return false;
}

// Runs `body` in a child with a mount namespace of its own (nothing it
// mounts reaches the host's); its exit code, 0 for success, or -1.
int in_own_mount_namespace(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0) _exit(100);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(101);
    _exit(body());
  }
  int st = -1;
  if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

class ContainerDirUnmount : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "mounting needs root";
    base_ = std::filesystem::canonical(tmp_.path()).string();
    share_ = base_ + "/pod";
    std::filesystem::create_directories(share_ + "/x/m");
    std::filesystem::create_directories(base_ + "/victim/m");
  }
  testing::TempDir tmp_;
  std::string base_, share_;
};

// Nested mounts below the dir go, deepest first.
TEST_F(ContainerDirUnmount, DetachesEveryMountBelowTheDir) {
  int rc = in_own_mount_namespace([&] {
    if (mount("tmpfs", (share_ + "/x/m").c_str(), "tmpfs", 0, nullptr) != 0) return 10;
    if (mkdir((share_ + "/x/m/n").c_str(), 0755) != 0) return 11;
    if (mount("tmpfs", (share_ + "/x/m/n").c_str(), "tmpfs", 0, nullptr) != 0) return 12;
    if (mount("tmpfs", (share_ + "/x/m").c_str(), "tmpfs", 0, nullptr) != 0) return 13;  // stacked
    if (mount_entries_below(share_ + "/").size() != 3) return 14;
    Status s = unmount_below(share_);
    if (!s.ok()) return 15;
    return mount_entries_below(share_ + "/").empty() ? 0 : 16;
  });
  EXPECT_EQ(rc, 0);
}

// The guest renames a directory above a mount in its share and leaves a
// symlink to a host path in its place between the mount table's read and
// the unmount: the host's mount there stays, and so does the guest's
// (reported: it is no longer reachable without a symlink).
TEST_F(ContainerDirUnmount, NeverFollowsASymlinkTheGuestPutInPlace) {
  int rc = in_own_mount_namespace([&] {
    if (mount("tmpfs", (share_ + "/x/m").c_str(), "tmpfs", 0, nullptr) != 0) return 10;
    if (mount("tmpfs", (base_ + "/victim/m").c_str(), "tmpfs", 0, nullptr) != 0) return 11;
    auto listed = mount_entries_below(share_ + "/");
    if (listed.size() != 1) return 12;
    if (rename((share_ + "/x").c_str(), (share_ + "/y").c_str()) != 0) return 13;
    if (symlink((base_ + "/victim").c_str(), (share_ + "/x").c_str()) != 0) return 14;
    Status s = unmount_entries(share_, listed);
    if (s.ok()) return 15;
    if (!mounted(base_ + "/victim/m")) return 16;  // the host's mount was taken
    if (!mounted(share_ + "/y/m")) return 17;
    // Looked up again, it is reached where it is now.
    return unmount_below(share_).ok() && !mounted(share_ + "/y/m") ? 0 : 18;
  });
  EXPECT_EQ(rc, 0);
}

// What is mounted at a listed point now is another mount than the one
// listed (one mounted over it since): left alone.
TEST_F(ContainerDirUnmount, LeavesAnotherMountAtAListedPoint) {
  int rc = in_own_mount_namespace([&] {
    if (mount("tmpfs", (share_ + "/x/m").c_str(), "tmpfs", 0, nullptr) != 0) return 10;
    auto listed = mount_entries_below(share_ + "/");
    if (listed.size() != 1) return 11;
    if (mount("tmpfs", (share_ + "/x/m").c_str(), "tmpfs", 0, nullptr) != 0) return 12;
    if (unmount_entries(share_, listed).ok()) return 13;
    return mount_entries_below(share_ + "/").size() == 2 ? 0 : 14;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace runvm::cli
