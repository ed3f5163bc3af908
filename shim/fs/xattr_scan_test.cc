#include "shim/fs/xattr_scan.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace runvm::fuse {
namespace {

using State = XattrScan::State;
using testing::TempDir;
using namespace std::string_view_literals;

UniqueFd open_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  EXPECT_TRUE(fd) << dir;
  return fd;
}

// A scan of `dir`, its walk over.
struct Walked {
  explicit Walked(const std::string& dir) : fd(open_dir(dir)), s(fd.get()) { s.wait(); }
  UniqueFd fd;
  XattrScan s;
};

State scan(const std::string& dir) { return Walked(dir).s.state(); }

// A tree like an image's: directories, files, a symlink, no xattrs.
void make_tree(const TempDir& d) {
  ASSERT_EQ(::mkdir((d / "usr").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((d / "usr/bin").c_str(), 0755), 0);
  for (const char* f : {"usr/bin/ping", "usr/bin/sh", "etc"}) std::ofstream(d / f) << "x";
  ASSERT_EQ(::symlink("usr/bin", (d / "bin").c_str()), 0);
}

TEST(XattrScan, ATreeWithoutXattrsIsAbsent) {
  TempDir d;
  make_tree(d);
  EXPECT_EQ(scan(d.path()), State::kAbsent);
}

TEST(XattrScan, AnXattrAnywhereInTheTreeIsPresent) {
  for (const char* where : {".", "usr", "usr/bin/ping", "etc"}) {
    TempDir d;
    make_tree(d);
    ASSERT_EQ(::setxattr((d / where).c_str(), "user.x", "1", 1, 0), 0) << where;
    EXPECT_EQ(scan(d.path()), State::kPresent) << where;
  }
}

TEST(XattrScan, AFileCapabilityIsPresent) {
  TempDir d;
  make_tree(d);
  // cap_net_raw+ep, as Debian's ping ships (VFS_CAP_REVISION_2).
  vfs_cap_data cap{};
  cap.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
  cap.data[0].permitted = 1u << CAP_NET_RAW;
  if (::setxattr((d / "usr/bin/ping").c_str(), "security.capability", &cap, sizeof cap, 0) != 0)
    GTEST_SKIP() << "setting a file capability needs CAP_SETFCAP: " << strerror(errno);
  EXPECT_EQ(scan(d.path()), State::kPresent);
}

TEST(XattrScan, SymlinksAreNotFollowed) {
  TempDir d, outside;
  make_tree(d);
  std::ofstream(outside / "f") << "x";
  ASSERT_EQ(::setxattr((outside / "f").c_str(), "user.x", "1", 1, 0), 0);
  ASSERT_EQ(::setxattr(outside.path().c_str(), "user.x", "1", 1, 0), 0);
  ASSERT_EQ(::symlink(outside.path().c_str(), (d / "out").c_str()), 0);
  ASSERT_EQ(::symlink((outside / "f").c_str(), (d / "outf").c_str()), 0);
  EXPECT_EQ(scan(d.path()), State::kAbsent);
}

TEST(XattrScan, ATreeDeeperThanTheBoundIsPresent) {
  TempDir d;
  UniqueFd at(::open(d.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (size_t i = 0; i < XattrScan::kMaxDepth + 1; ++i) {
    ASSERT_EQ(::mkdirat(at.get(), "d", 0755), 0);
    at.reset(::openat(at.get(), "d", O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(at);
  }
  EXPECT_EQ(scan(d.path()), State::kPresent);
}

TEST(XattrScan, HostLabelsAreNotNeededByTheGuest) {
  EXPECT_TRUE(XattrScan::needed("security.capability"));
  EXPECT_TRUE(XattrScan::needed("user.mime_type"));
  EXPECT_TRUE(XattrScan::needed("trusted.overlay.opaque"));
  EXPECT_TRUE(XattrScan::needed("system.posix_acl_access"));
  EXPECT_FALSE(XattrScan::needed("security.selinux"));
  EXPECT_FALSE(XattrScan::needed("security.ima"));
  EXPECT_FALSE(XattrScan::any_needed(""sv));
  EXPECT_FALSE(XattrScan::any_needed("security.selinux\0security.evm\0"sv));
  EXPECT_TRUE(XattrScan::any_needed("security.selinux\0security.capability\0"sv));
  EXPECT_TRUE(XattrScan::any_needed("security.selinux\0user.a"sv));  // no final NUL
  EXPECT_FALSE(XattrScan::any_needed("\0\0security.capabilityX\0"sv));
}

TEST(XattrScan, ReadsSwitchAnAbsentTreeOffForGood) {
  TempDir d;
  Walked w(d.path());
  XattrScan& s = w.s;
  ASSERT_EQ(s.state(), State::kAbsent);
  s.tree_moved();  // the walk is over: nothing to disprove any more
  EXPECT_EQ(s.state(), State::kAbsent);
  EXPECT_TRUE(s.answer_enosys(false));  // GETXATTR: off from now on
  EXPECT_EQ(s.state(), State::kOff);
  EXPECT_TRUE(s.answer_enosys(false));
  EXPECT_TRUE(s.answer_enosys(true));  // SETXATTR too: it could not be read back
  EXPECT_EQ(s.state(), State::kOff);
}

TEST(XattrScan, AChangeBeforeAnyReadKeepsXattrsOn) {
  TempDir d;
  Walked w(d.path());
  XattrScan& s = w.s;
  ASSERT_EQ(s.state(), State::kAbsent);
  EXPECT_FALSE(s.answer_enosys(true));  // SETXATTR: served, and xattrs stay
  EXPECT_EQ(s.state(), State::kPresent);
  EXPECT_FALSE(s.answer_enosys(false));
  EXPECT_EQ(s.state(), State::kPresent);
}

TEST(XattrScan, APresentTreeIsAlwaysServed) {
  TempDir d;
  ASSERT_EQ(::setxattr(d.path().c_str(), "user.x", "1", 1, 0), 0);
  Walked w(d.path());
  XattrScan& s = w.s;
  ASSERT_EQ(s.state(), State::kPresent);
  for (bool change : {false, true, false}) EXPECT_FALSE(s.answer_enosys(change));
}

TEST(XattrScan, ItsThreadRunsTheStartHookFirstAndProvesNothingIfItFails) {
  TempDir d;  // no xattrs: "absent" if walked
  UniqueFd fd = open_dir(d.path());
  const pid_t caller = ::gettid();
  for (bool ok : {true, false}) {
    std::atomic<pid_t> ran_on{0};
    XattrScan s(fd.get(), [&] {
      ran_on = ::gettid();
      return ok;
    });
    s.wait();
    EXPECT_NE(ran_on.load(), caller);
    EXPECT_EQ(s.state(), ok ? State::kAbsent : State::kPresent);
  }
}

}  // namespace
}  // namespace runvm::fuse
