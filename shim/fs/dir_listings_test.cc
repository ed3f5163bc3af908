// Handle-less directory listings (fuse::DirListings): one fd per listing.
#include "shim/fs/dir_listings.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>

#include "shim/fs/fuse_test_client.h"
#include "shim/fs/passthrough_fs.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

using testing::Args;
using testing::FuseTestClient;
using testing::TempDir;

UniqueFd open_dir(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

TEST(DirListingsTest, OffsetZeroStartsAListingAndTheOldestFdGoesFirst) {
  TempDir d;
  fuse::DirListings l;
  EXPECT_EQ(l.find(5, 0), -1);
  EXPECT_EQ(l.find(5, 100), -1);
  const int fd5 = l.start(5, open_dir(d.path()));
  EXPECT_GE(fd5, 0);
  EXPECT_EQ(l.find(5, 100), fd5);
  EXPECT_EQ(l.find(5, 0), -1);  // a rewind lists anew
  const int again = l.start(5, open_dir(d.path()));
  EXPECT_EQ(l.size(), 1u);
  EXPECT_EQ(l.find(5, 1), again);
  // Node 5 is used last: every other one goes before it.
  for (uint64_t n = 100; n < 100 + fuse::DirListings::kMaxFds - 1; ++n)
    l.start(n, open_dir(d.path()));
  EXPECT_EQ(l.find(5, 1), again);
  l.start(1000, open_dir(d.path()));
  EXPECT_EQ(l.size(), fuse::DirListings::kMaxFds);
  EXPECT_EQ(l.find(100, 1), -1);
  EXPECT_EQ(l.find(5, 1), again);
  l.clear();
  EXPECT_EQ(l.size(), 0u);
}

// An overlayfs mount, undone on scope exit.
struct OverlayMount {
  TempDir lower{"runvm-ovl-lower"}, upper{"runvm-ovl-upper"}, work{"runvm-ovl-work"},
      merged{"runvm-ovl-merged"};
  bool mounted = false;
  void mount() {
    const std::string opts =
        "lowerdir=" + lower.path() + ",upperdir=" + upper.path() + ",workdir=" + work.path();
    mounted = ::mount("overlay", merged.path().c_str(), "overlay", 0, opts.c_str()) == 0;
  }
  ~OverlayMount() {
    if (mounted) ::umount2(merged.path().c_str(), MNT_DETACH);
  }
};

// The names of one READDIR reply at `off` (fh 0), and the offset to go on from.
std::vector<std::string> readdir_piece(FuseTestClient& c, uint64_t node, uint64_t* off) {
  fuse_read_in in{};
  in.offset = *off;
  in.size = 512;
  auto r = c.call(FUSE_READDIR, node, Args().add(in), in.size + 16);
  EXPECT_EQ(r.error, 0);
  std::vector<std::string> names;
  for (size_t pos = 0; pos + sizeof(fuse_dirent) <= r.data.size();) {
    fuse_dirent d;
    std::memcpy(&d, r.data.data() + pos, sizeof d);
    names.emplace_back(reinterpret_cast<const char*>(r.data.data() + pos + sizeof d), d.namelen);
    *off = d.off;
    pos += (sizeof d + d.namelen + 7) & ~size_t{7};
  }
  return names;
}

// rm -rf on a Podman rootfs: the guest lists a merged directory in pieces
// and unlinks what each piece named before it reads the next. Its offsets
// are positions in the list the fd built; a fresh fd would build a shorter
// one and skip as many names as were unlinked.
TEST(DirListingsTest, AHandlelessShareListsAnOverlayDirectoryOnOneFdWhileItsNamesGo) {
  OverlayMount ovl;
  std::set<std::string> want;
  // Names of both layers: a lower one unlinked stays in the list as a
  // whiteout, an upper one goes from it.
  for (int i = 0; i < 60; ++i) {
    const std::string n = "entry-" + std::to_string(i);
    std::ofstream(i % 4 ? ovl.upper / n : ovl.lower / n) << i;
    want.insert(n);
  }
  ovl.mount();
  if (!ovl.mounted) GTEST_SKIP() << "cannot mount overlayfs here: " << strerror(errno);
  auto fs = PassthroughFs::create({ovl.merged.path(), CachePolicy::kExclusive, false});
  ASSERT_TRUE(fs.ok()) << fs.error().message;
  FuseTestClient c(**fs);
  c.init();
  // The guest stops asking for directory handles.
  EXPECT_EQ(c.open(FUSE_ROOT_ID, O_RDONLY, FUSE_OPENDIR), 0u);
  EXPECT_EQ(c.last_error, ENOSYS);

  std::set<std::string> seen;
  uint64_t off = 0;
  for (int pieces = 0; pieces < 100; ++pieces) {
    auto names = readdir_piece(c, FUSE_ROOT_ID, &off);
    if (names.empty()) break;
    for (const auto& n : names) {
      EXPECT_TRUE(seen.insert(n).second) << "listed twice: " << n;
      if (n == "." || n == "..") continue;
      EXPECT_EQ(c.call(FUSE_UNLINK, FUSE_ROOT_ID, Args().str(n)).error, 0) << n;
    }
  }
  seen.erase(".");
  seen.erase("..");
  EXPECT_EQ(seen, want);
  EXPECT_EQ((*fs)->listing_count(), 1u);
  EXPECT_EQ((*fs)->handle_count(), 0u);
}

}  // namespace
}  // namespace runvm
