// StdioFs driven like the guest kernel would (fuse_test_client.h): the
// nodes are the host fds themselves, offsets and O_APPEND are the host's.
#include "shim/fs/stdio_fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/fs/fuse_test_client.h"

namespace runvm {
namespace {

using testing::Args;
using testing::FuseTestClient;

constexpr uint64_t kStdin = 2, kStdout = 3, kStderr = 4;  // nodes "0", "1", "2"

std::string slurp(int fd) {
  std::string out;
  char buf[256];
  for (off_t off = 0;;) {
    ssize_t n = pread(fd, buf, sizeof buf, off);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
}

UniqueFd temp_file(int flags) {
  char path[] = "/tmp/runvm-stdio-fs-XXXXXX";
  UniqueFd fd(mkstemp(path));
  if (fd) unlink(path);
  if (fd && flags) fcntl(fd.get(), F_SETFL, flags);
  return fd;
}

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(StdioFs, WritesGoThroughTheHostFdAtItsOffset) {
  UniqueFd out = temp_file(0), err = temp_file(O_APPEND);
  ASSERT_EQ(write(out.get(), "head\n", 5), 5);
  StdioFs fs({-1, out.get(), err.get()});
  FuseTestClient c(fs);
  c.init();
  EXPECT_EQ(c.lookup(FUSE_ROOT_ID, "0"), 0u);  // not served
  EXPECT_EQ(c.last_error, ENOENT);
  ASSERT_EQ(c.lookup(FUSE_ROOT_ID, "1"), kStdout);
  ASSERT_EQ(c.lookup(FUSE_ROOT_ID, "2"), kStderr);
  EXPECT_EQ(c.lookup(FUSE_ROOT_ID, ".."), 0u);
  // Output is write-only.
  EXPECT_EQ(c.open(kStdout, O_RDWR), 0u);
  EXPECT_EQ(c.last_error, EACCES);
  uint64_t fh = c.open(kStdout, O_WRONLY);
  ASSERT_EQ(fh, kStdout);
  // Uncached, so no FLUSH at close.
  auto opened = c.call(FUSE_OPEN, kStdout, Args().add(fuse_open_in{O_WRONLY, 0}));
  ASSERT_EQ(opened.error, 0);
  EXPECT_EQ(opened.as<fuse_open_out>().open_flags, uint32_t{FOPEN_DIRECT_IO | FOPEN_NOFLUSH});
  uint32_t written = 0;
  // The guest's offset (0) is ignored: the host's offset (after "head") counts.
  EXPECT_EQ(c.write(fh, 0, bytes("from-guest\n"), &written), 0);
  EXPECT_EQ(written, 11u);
  EXPECT_EQ(write(out.get(), "tail\n", 5), 5);  // the caller's offset moved too
  EXPECT_EQ(slurp(out.get()), "head\nfrom-guest\ntail\n");
  // O_APPEND is the host's: another writer moved the end meanwhile.
  ASSERT_EQ(pwrite(err.get(), "other\n", 6, 0), 6);
  uint64_t efh = c.open(kStderr, O_WRONLY);
  EXPECT_EQ(c.write(efh, 0, bytes("err\n")), 0);
  EXPECT_EQ(slurp(err.get()), "other\nerr\n");
  // Attributes are the host file's, a regular file.
  auto attr = c.getattr(kStdout);
  ASSERT_TRUE(attr);
  EXPECT_TRUE(S_ISREG(attr->mode));
  EXPECT_EQ(attr->size, 21u);
  // Truncating is allowed, chmod is not; reads of an output are refused.
  fuse_setattr_in set{};
  set.valid = FATTR_SIZE;
  set.size = 5;
  EXPECT_EQ(c.call(FUSE_SETATTR, kStdout, Args().add(set)).error, 0);
  EXPECT_EQ(slurp(out.get()), "head\n");
  set.valid = FATTR_MODE;
  EXPECT_EQ(c.call(FUSE_SETATTR, kStdout, Args().add(set)).error, EPERM);
  EXPECT_EQ(c.read(fh, 0, 10).error, EBADF);
}

TEST(StdioFs, StdinReadsAtTheHostOffsetAndIsReadOnly) {
  UniqueFd in = temp_file(0);
  ASSERT_EQ(write(in.get(), "skipped\nline one\nline two\n", 26), 26);
  ASSERT_EQ(lseek(in.get(), 8, SEEK_SET), 8);
  StdioFs fs({in.get(), -1, -1});
  FuseTestClient c(fs);
  c.init();
  ASSERT_EQ(c.lookup(FUSE_ROOT_ID, "0"), kStdin);
  EXPECT_EQ(c.open(kStdin, O_WRONLY), 0u);
  EXPECT_EQ(c.last_error, EACCES);
  uint64_t fh = c.open(kStdin, O_RDONLY);
  auto r = c.read(fh, 0, 9);
  ASSERT_EQ(r.error, 0);
  EXPECT_EQ(std::string(r.data.begin(), r.data.end()), "line one\n");
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 17);  // the caller sees the read
  EXPECT_EQ(c.write(fh, 0, bytes("x")), EBADF);
  fuse_setattr_in set{};
  set.valid = FATTR_SIZE;
  EXPECT_EQ(c.call(FUSE_SETATTR, kStdin, Args().add(set)).error, EACCES);
}

TEST(StdioFs, HostileRequests) {
  StdioFs fs({-1, -1, -1});
  FuseTestClient c(fs);
  EXPECT_EQ(c.getattr(FUSE_ROOT_ID), std::nullopt);  // before INIT
  EXPECT_EQ(c.last_error, EIO);
  c.init();
  EXPECT_EQ(c.getattr(99), std::nullopt);
  EXPECT_EQ(c.open(FUSE_ROOT_ID, O_RDONLY), 0u);
  EXPECT_EQ(c.lookup(kStdout, "x"), 0u);
  EXPECT_EQ(c.last_error, ENOTDIR);
  EXPECT_EQ(c.write(~0ull, 0, bytes("x")), EBADF);
  EXPECT_EQ(c.read(~0ull, 0, 10).error, EBADF);
  EXPECT_EQ(c.call(FUSE_SYMLINK, FUSE_ROOT_ID).error, ENOSYS);
  auto root = c.getattr(FUSE_ROOT_ID);
  ASSERT_TRUE(root);
  EXPECT_TRUE(S_ISDIR(root->mode));
}

}  // namespace
}  // namespace runvm
