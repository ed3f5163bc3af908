#include "shim/fs/tmpfile_stock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "shim/fs/fs_creds.h"
#include "tests/support/temp_dir.h"

namespace runvm::fuse {
namespace {

using Kind = TmpfileStock::Kind;
using testing::TempDir;

UniqueFd open_dir(const std::string& p) {
  return UniqueFd(::open(p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
}

// Takes until the stock is aimed at `kind` and filled; returns one file.
UniqueFd take_when_stocked(TmpfileStock& s, const Kind& kind, int dir) {
  for (int i = 0; i < 3; ++i) {
    if (UniqueFd f = s.take(kind, dir)) return f;
    s.wait_idle();
  }
  return {};
}

// A stock in a directory of its own, aimed at `kind` and filled (`stocked`),
// idle.
struct Stocked {
  explicit Stocked(const Kind& k) : kind(k) { s.wait_idle(); }
  TempDir d;
  UniqueFd dir = open_dir(d.path());
  TmpfileStock s;
  const Kind kind;
  const bool stocked = static_cast<bool>(take_when_stocked(s, kind, dir.get()));
};

TEST(TmpfileStock, AimsAtAKindAfterTwoMissesInARowThenStocksIt) {
  TempDir d;
  UniqueFd dir = open_dir(d.path());
  TmpfileStock s;
  const Kind kind{7, 0, 0, 0640};
  EXPECT_FALSE(s.take(kind, dir.get()));  // first miss: not aimed yet
  s.wait_idle();
  EXPECT_EQ(s.size(), 0u);
  EXPECT_FALSE(s.take(kind, dir.get()));  // second miss: aimed
  s.wait_idle();
  EXPECT_EQ(s.size(), 1u);  // one file for a new aim
  UniqueFd f = s.take(kind, dir.get());
  ASSERT_TRUE(f);
  s.wait_idle();
  EXPECT_EQ(s.size(), 2u);  // a hit: one more held
  for (size_t i = 0; i < 2 * TmpfileStock::kDepth; ++i) {
    EXPECT_TRUE(s.take(kind, dir.get()));
    s.wait_idle();
  }
  EXPECT_EQ(s.size(), TmpfileStock::kDepth);  // at most
  EXPECT_EQ(s.dropped(), 0u);
  struct stat st;
  ASSERT_EQ(::fstat(f.get(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_nlink, 0u);  // no name until the taker links it
  EXPECT_EQ(st.st_size, 0);
  // Nothing shows in the directory.
  EXPECT_TRUE(d.entries().empty());
}

TEST(TmpfileStock, ADifferentKindGetsNothingAndOneMissDoesNotReaim) {
  Stocked st(Kind{7, 0, 0, 0644});
  ASSERT_TRUE(st.stocked);
  for (Kind other :
       {Kind{8, 0, 0, 0644}, Kind{7, 1000, 0, 0644}, Kind{7, 0, 1000, 0644}, Kind{7, 0, 0, 0600}}) {
    EXPECT_FALSE(st.s.take(other, st.dir.get()));
    EXPECT_TRUE(st.s.take(st.kind, st.dir.get()));  // still aimed at the first kind
    st.s.wait_idle();
  }
}

// Made as the backend's mknodat(2) makes a file: the caller's fsuid, the
// set-group-ID directory's group, the mode under the same umask.
TEST(TmpfileStock, AStockedFileIsMadeAsMknodWouldMakeIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (files of other owners)";
  TempDir d;
  ASSERT_EQ(::chown(d.path().c_str(), 0, 4321), 0);
  ASSERT_EQ(::chmod(d.path().c_str(), 02777), 0);
  UniqueFd dir = open_dir(d.path());
  TmpfileStock s;
  const Kind kind{7, 1000, 1000, 02775};
  UniqueFd f = take_when_stocked(s, kind, dir.get());
  ASSERT_TRUE(f);
  ASSERT_EQ(::linkat(f.get(), "", dir.get(), "stocked", AT_EMPTY_PATH), 0);
  {
    // The reference: made as the backend makes files, by the same caller.
    auto creds = ScopedFsCreds::become(1000, 1000);
    ASSERT_TRUE(creds.ok());
    ASSERT_EQ(::mknodat(dir.get(), "made", S_IFREG | 02775, 0), 0) << strerror(errno);
  }
  struct stat a, b;
  ASSERT_EQ(::fstatat(dir.get(), "stocked", &a, AT_SYMLINK_NOFOLLOW), 0);
  ASSERT_EQ(::fstatat(dir.get(), "made", &b, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_EQ(a.st_uid, 1000u);
  EXPECT_EQ(a.st_gid, 4321u);  // the directory's, as mknodat's
  EXPECT_EQ(a.st_uid, b.st_uid);
  EXPECT_EQ(a.st_gid, b.st_gid);
  EXPECT_EQ(a.st_mode, b.st_mode);
  EXPECT_EQ(a.st_nlink, 1u);
}

TEST(TmpfileStock, ClearDropsTheStockAndItsAim) {
  Stocked st(Kind{7, 0, 0, 0644});
  ASSERT_TRUE(st.stocked);
  const size_t held = st.s.size();
  st.s.clear();
  st.s.wait_idle();
  EXPECT_EQ(st.s.size(), 0u);
  EXPECT_EQ(st.s.dropped(), held);
  EXPECT_FALSE(st.s.take(st.kind, st.dir.get()));  // a miss again, not yet aimed
  st.s.wait_idle();
  EXPECT_EQ(st.s.size(), 0u);
}

TEST(TmpfileStock, AFileSystemWithoutTmpfilesTurnsItOff) {
  UniqueFd dir = open_dir("/proc");
  ASSERT_TRUE(dir);
  TmpfileStock s;
  const Kind kind{7, 0, 0, 0644};
  EXPECT_FALSE(take_when_stocked(s, kind, dir.get()));
  EXPECT_FALSE(s.enabled());
  EXPECT_FALSE(s.take(kind, dir.get()));
}

TEST(TmpfileStock, ADirectoryItCannotMakeFilesInStocksNothingButStaysOn) {
  TempDir d;
  ASSERT_EQ(::mkdir((d / "gone").c_str(), 0755), 0);
  UniqueFd dir = open_dir(d / "gone");
  ASSERT_EQ(::rmdir((d / "gone").c_str()), 0);  // ENOENT for O_TMPFILE in it
  TmpfileStock s;
  const Kind kind{7, 0, 0, 0644};
  EXPECT_FALSE(take_when_stocked(s, kind, dir.get()));
  EXPECT_TRUE(s.enabled());  // only this kind failed
  EXPECT_EQ(s.size(), 0u);
  UniqueFd live = open_dir(d.path());
  EXPECT_TRUE(take_when_stocked(s, Kind{8, 0, 0, 0644}, live.get()));
}

// FsConfig::thread_start (the shim confines the helper there): run on the
// stock's own thread before anything else; false leaves the stock off.
TEST(TmpfileStock, ItsThreadRunsTheStartHookFirstAndStaysOffIfItFails) {
  TempDir d;
  UniqueFd dir = open_dir(d.path());
  const pid_t caller = ::gettid();
  for (bool ok : {true, false}) {
    std::atomic<pid_t> ran_on{0};
    TmpfileStock s([&] {
      ran_on = ::gettid();
      return ok;
    });
    const Kind kind{7, 0, 0, 0644};
    EXPECT_EQ(static_cast<bool>(take_when_stocked(s, kind, dir.get())), ok);
    EXPECT_NE(ran_on.load(), 0);
    EXPECT_NE(ran_on.load(), caller);
    EXPECT_EQ(s.enabled(), ok);
  }
}

}  // namespace
}  // namespace runvm::fuse
