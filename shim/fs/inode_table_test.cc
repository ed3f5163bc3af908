#include "shim/fs/inode_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>

namespace runvm::fuse {
namespace {

UniqueFd open_path(const char* p) { return UniqueFd(::open(p, O_PATH | O_CLOEXEC)); }

struct stat stat_of(int fd) {
  struct stat st;
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st;
}

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(InodeTable, SameInodeSharesNodeidAndCountsLookups) {
  UniqueFd root = open_path("/");
  InodeTable t(std::move(root), stat_of(open_path("/").get()));
  UniqueFd a = open_path("/tmp");
  auto st = stat_of(a.get());
  Inode& first = t.intern(std::move(a), st);
  const uint64_t id = first.nodeid;
  const int fd = first.fd.get();
  EXPECT_NE(id, InodeTable::kRootId);
  UniqueFd b = open_path("/tmp");
  const int dup_fd = b.get();
  Inode& second = t.intern(std::move(b), st);
  EXPECT_EQ(second.nodeid, id);
  EXPECT_EQ(second.nlookup, 2u);
  EXPECT_FALSE(fd_open(dup_fd));  // the duplicate handle was closed

  t.forget(id, 1);
  ASSERT_NE(t.get(id), nullptr);
  EXPECT_TRUE(fd_open(fd));
  t.forget(id, 5);  // more than held: gone, not underflowed
  EXPECT_EQ(t.get(id), nullptr);
  EXPECT_FALSE(fd_open(fd));

  // A new lookup of the same inode gets a fresh nodeid: ids are never reused.
  UniqueFd c = open_path("/tmp");
  EXPECT_NE(t.intern(std::move(c), st).nodeid, id);
}

TEST(InodeTable, RootSurvivesForgetAndClear) {
  InodeTable t(open_path("/"), stat_of(open_path("/").get()));
  t.forget(InodeTable::kRootId, 100);
  ASSERT_NE(t.get(InodeTable::kRootId), nullptr);
  UniqueFd a = open_path("/tmp");
  auto st = stat_of(a.get());
  uint64_t id = t.intern(std::move(a), st).nodeid;
  EXPECT_EQ(t.size(), 2u);
  t.clear();
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.get(id), nullptr);
  EXPECT_NE(t.get(InodeTable::kRootId), nullptr);
  EXPECT_EQ(t.get(12345), nullptr);
  // A new session (after DESTROY, the kernel forgot every node) numbers
  // from the start again.
  UniqueFd b = open_path("/tmp");
  EXPECT_EQ(t.intern(std::move(b), st).nodeid, id);
}

TEST(HandleTable, ANewSessionNumbersFromTheStart) {
  HandleTable h;
  uint64_t first = h.add(open_path("/"));
  h.add(open_path("/"));
  h.clear();
  EXPECT_EQ(h.get(first), -1);
  EXPECT_EQ(h.add(open_path("/")), first);
}

TEST(HandleTable, UnknownHandlesMiss) {
  HandleTable h;
  uint64_t fh = h.add(open_path("/"));
  EXPECT_GE(h.get(fh), 0);
  EXPECT_EQ(h.get(fh + 1), -1);
  EXPECT_TRUE(h.remove(fh));
  EXPECT_FALSE(h.remove(fh));
  EXPECT_EQ(h.get(fh), -1);
}

}  // namespace
}  // namespace runvm::fuse
