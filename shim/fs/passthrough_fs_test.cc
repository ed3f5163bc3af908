// Handlers against a temp dir, driven like the guest kernel drives them.
#include "shim/fs/passthrough_fs.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "shim/fs/fuse_test_client.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

using testing::Args;
using testing::FuseTestClient;
using testing::TempDir;

constexpr uint64_t kRoot = FUSE_ROOT_ID;

using testing::read_file;

class PassthroughFsTest : public ::testing::Test {
 protected:
  void SetUp() override { make(CachePolicy::kCoherent, false); }
  // Coherent shares here serve open-file handles, as they did before
  // handle-less serving became every share's default: most cases below
  // open and create by handle; CoherentShareServesWithoutHandles and
  // ExclusiveShareServesWithoutHandles check the handle-less defaults.
  void make(CachePolicy cache, bool readonly) {
    FsConfig cfg{dir.path(), cache, readonly};
    cfg.handles = cache == CachePolicy::kCoherent;
    auto r = PassthroughFs::create(cfg);
    ASSERT_TRUE(r.ok()) << r.error().message;
    fs = std::move(*r);
    client = std::make_unique<FuseTestClient>(*fs);
  }
  FuseTestClient& c() { return *client; }

  TempDir dir;
  std::unique_ptr<PassthroughFs> fs;
  std::unique_ptr<FuseTestClient> client;
};

TEST_F(PassthroughFsTest, RequestsBeforeInitFailAndUnknownOpcodesAreEnosys) {
  EXPECT_EQ(c().call(FUSE_GETATTR, kRoot, Args().add(fuse_getattr_in{})).error, EIO);
  c().init();
  EXPECT_TRUE(fs->initialized());
  EXPECT_EQ(c().call(FUSE_IOCTL, kRoot).error, ENOSYS);
  EXPECT_EQ(c().call(9999, kRoot).error, ENOSYS);
  EXPECT_EQ(c().call(FUSE_GETLK, kRoot).error, ENOSYS);
  EXPECT_EQ(c().call(FUSE_INTERRUPT, kRoot, Args().add(fuse_interrupt_in{1})).used, 0u);
}

TEST_F(PassthroughFsTest, StatsCountEveryRequestAndItsErrors) {
  c().init();
  std::ofstream(dir / "here") << "x";
  EXPECT_NE(c().lookup(kRoot, "here"), 0u);
  EXPECT_EQ(c().lookup(kRoot, "missing"), 0u);    // a negative entry, no error
  EXPECT_EQ(c().lookup(kRoot, "../escape"), 0u);  // refused before any syscall
  c().call(9999, kRoot);                          // ENOSYS, in the shared slot
  std::map<uint32_t, fuse::Stats::Entry> by_op;
  for (const auto& e : fs->stats().snapshot()) by_op[e.opcode] = e;
  EXPECT_EQ(by_op[FUSE_INIT].count, 1u);
  EXPECT_EQ(by_op[FUSE_INIT].errors, 0u);
  EXPECT_EQ(by_op[FUSE_LOOKUP].count, 3u);
  EXPECT_EQ(by_op[FUSE_LOOKUP].errors, 1u);
  EXPECT_EQ(by_op[fuse::Stats::kOtherSlot].count, 1u);
  EXPECT_EQ(by_op[fuse::Stats::kOtherSlot].errors, 1u);
  EXPECT_EQ(fs->stats().total_requests(), 5u);
  // SETATTRs by what they set, short ones not at all.
  uint64_t here = c().lookup(kRoot, "here");
  fuse_setattr_in sa{};
  sa.valid = FATTR_MODE | FATTR_MTIME;
  sa.mode = 0600;
  EXPECT_EQ(c().call(FUSE_SETATTR, here, Args().add(sa)).error, 0);
  EXPECT_EQ(c().call(FUSE_SETATTR, here, Args().raw("short")).error, EINVAL);
  const auto k = fs->stats().setattr_kinds();
  EXPECT_EQ(k.mode, 1u);
  EXPECT_EQ(k.times, 1u);
  EXPECT_EQ(k.owner + k.size, 0u);
}

TEST_F(PassthroughFsTest, LookupsCountByWhatTheGuestAlreadyKnew) {
  c().init();
  std::ofstream(dir / "here") << "x";
  const uint64_t here = c().lookup(kRoot, "here");
  ASSERT_NE(here, 0u);
  EXPECT_EQ(c().lookup(kRoot, "here"), here);  // held, named to it just now
  for (const char* name : {"absent", "absent", "other"})
    EXPECT_EQ(c().call(FUSE_LOOKUP, kRoot, Args().str(name)).error, 0);  // negative entries
  // A name under another parent is another miss.
  std::filesystem::create_directories(dir / "sub");
  const uint64_t sub = c().lookup(kRoot, "sub");
  EXPECT_EQ(c().call(FUSE_LOOKUP, sub, Args().str("absent")).error, 0);
  auto k = fs->stats().lookup_kinds();
  EXPECT_EQ(k.fresh, 2u);
  EXPECT_EQ(k.held_recent, 1u);
  EXPECT_EQ(k.miss, 3u);
  EXPECT_EQ(k.miss_again, 1u);
  EXPECT_EQ(k.held_expired, 0u);
  // Past the coherent share's 1 s entry timeout, a lookup of a held inode is
  // a revalidation of an expired entry, and a miss is new again.
  ::usleep(1'100'000);
  EXPECT_EQ(c().lookup(kRoot, "here"), here);
  EXPECT_EQ(c().call(FUSE_LOOKUP, kRoot, Args().str("absent")).error, 0);
  k = fs->stats().lookup_kinds();
  EXPECT_EQ(k.held_expired, 1u);
  EXPECT_EQ(k.miss, 4u);
  EXPECT_EQ(k.miss_again, 1u);
  EXPECT_NE(fs->stats().format().find(
                "fuse-lookup miss=4 miss_again=1 held_recent=1 held_expired=1 new=2\n"),
            std::string::npos)
      << fs->stats().format();
}

TEST_F(PassthroughFsTest, InitNegotiatesByPolicyAndQueueSize) {
  fuse_init_in old{};
  old.major = 7;
  old.minor = 30;
  EXPECT_EQ(c().call(FUSE_INIT, 0, Args().add(old)).error, EPROTO);
  fs->set_queue_size(128);
  auto out = c().init();
  EXPECT_EQ(out.major, 7u);
  EXPECT_EQ(out.minor, 36u);
  EXPECT_EQ(out.max_pages, 120u);
  EXPECT_EQ(out.max_write, 120u * 4096);
  EXPECT_TRUE(out.flags & FUSE_MAX_PAGES);
  EXPECT_TRUE(out.flags & FUSE_DO_READDIRPLUS);
  EXPECT_FALSE(out.flags & FUSE_WRITEBACK_CACHE);  // coherent
  EXPECT_TRUE(out.flags & FUSE_CACHE_SYMLINKS);    // immutable on every share
  EXPECT_EQ(out.flags & ~0u & FUSE_POSIX_LOCKS, 0u);
  // Only what the kernel offered.
  EXPECT_EQ(c().init(FUSE_ASYNC_READ).flags, uint32_t{FUSE_ASYNC_READ});
  // A coherent share's miss is cached as briefly as its names are.
  auto brief = c().call(FUSE_LOOKUP, kRoot, Args().str("absent"));
  EXPECT_EQ(brief.error, 0);
  EXPECT_EQ(brief.as<fuse_entry_out>().nodeid, 0u);
  EXPECT_EQ(brief.as<fuse_entry_out>().entry_valid, 1u);
  EXPECT_EQ(brief.as<fuse_entry_out>().attr_valid, 0u);
  // ...and not at all where the host adds names for the guest to use at once.
  FsConfig pod{dir.path(), CachePolicy::kCoherent, false};
  pod.cache_misses = false;
  auto p = PassthroughFs::create(pod);
  ASSERT_TRUE(p.ok());
  FuseTestClient pc(**p);
  pc.init();
  EXPECT_EQ(pc.call(FUSE_LOOKUP, kRoot, Args().str("absent")).error, ENOENT);
  // Deeper down (inside a member's root) misses are cached as on any
  // coherent share, but not in the one subdirectory where the host adds names
  // (the pod's binds), found by identity as the host remakes it.
  std::filesystem::create_directories(dir / "member");
  std::filesystem::create_directories(dir / "@binds");
  pod.fresh_names_dir = "@binds";
  auto f = PassthroughFs::create(pod);
  ASSERT_TRUE(f.ok());
  FuseTestClient fc(**f);
  fc.init();
  const uint64_t member = fc.lookup(kRoot, "member");
  ASSERT_NE(member, 0u);
  auto deep = fc.call(FUSE_LOOKUP, member, Args().str("usr"));
  EXPECT_EQ(deep.error, 0);
  EXPECT_EQ(deep.as<fuse_entry_out>().nodeid, 0u);
  EXPECT_EQ(deep.as<fuse_entry_out>().entry_valid, 1u);
  const uint64_t binds = fc.lookup(kRoot, "@binds");
  ASSERT_NE(binds, 0u);
  EXPECT_EQ(fc.call(FUSE_LOOKUP, binds, Args().str("0")).error, ENOENT);
  EXPECT_EQ(fc.call(FUSE_LOOKUP, kRoot, Args().str("absent")).error, ENOENT);
  // Removed, its old inode is a plain directory to cache misses in.
  std::filesystem::rename(dir / "@binds", dir / "old-binds");
  EXPECT_EQ(fc.call(FUSE_LOOKUP, binds, Args().str("0")).error, 0);

  make(CachePolicy::kExclusive, false);
  fs->set_queue_size(1024);
  auto ex = c().init();
  EXPECT_EQ(ex.max_pages, PassthroughFs::kMaxPages);
  EXPECT_FALSE(ex.flags & FUSE_WRITEBACK_CACHE);  // only when asked for
  EXPECT_TRUE(ex.flags & FUSE_CACHE_SYMLINKS);
  FsConfig wb{dir.path(), CachePolicy::kExclusive, false};
  wb.writeback = true;
  auto w = PassthroughFs::create(wb);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(FuseTestClient(**w).init().flags & FUSE_WRITEBACK_CACHE);
  // Exclusive trees cache misses too.
  auto neg = c().call(FUSE_LOOKUP, kRoot, Args().str("absent"));
  EXPECT_EQ(neg.error, 0);
  EXPECT_EQ(neg.as<fuse_entry_out>().nodeid, 0u);
  EXPECT_GT(neg.as<fuse_entry_out>().entry_valid, 1u);
}

TEST_F(PassthroughFsTest, CreateWriteReadAcrossManyDescriptors) {
  c().init();
  auto [node, fh] = c().create(kRoot, "big", 0640);
  ASSERT_NE(node, 0u) << c().last_error;
  std::vector<uint8_t> data(300 * 1024 + 123);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + i / 4096);
  c().piece = 4096;  // like guest pages: one descriptor each
  uint32_t written = 0;
  ASSERT_EQ(c().write(fh, 1000, data, &written), 0);
  EXPECT_EQ(written, data.size());
  std::string host = read_file(dir / "big");
  ASSERT_EQ(host.size(), 1000 + data.size());
  EXPECT_EQ(std::memcmp(host.data() + 1000, data.data(), data.size()), 0);

  c().piece = 3000;  // unaligned pieces, header split across them
  auto r = c().read(fh, 1000, static_cast<uint32_t>(data.size() + 5000));
  ASSERT_EQ(r.error, 0);
  ASSERT_EQ(r.data.size(), data.size());  // short at end of file
  EXPECT_EQ(r.data, data);
  auto tail = c().read(fh, 1000 + data.size(), 100);
  EXPECT_EQ(tail.error, 0);
  EXPECT_TRUE(tail.data.empty());
  EXPECT_EQ(c().release(fh), 0);
  EXPECT_EQ(c().release(fh), EBADF);
  EXPECT_EQ(c().read(fh, 0, 10).error, EBADF);
  auto attr = c().getattr(node);
  ASSERT_TRUE(attr);
  EXPECT_EQ(attr->size, 1000 + data.size());
  EXPECT_EQ(attr->mode, S_IFREG | 0640u);
}

// Only a read-only descriptor skips the FLUSH at close (which op_flush
// answers ENOSYS anyway); a writable one keeps the guest's write-back of its
// mmap()ed pages there. The page cache is kept only on exclusive shares.
TEST_F(PassthroughFsTest, OpenRepliesSkipTheFlushOfReadOnlyDescriptors) {
  c().init();
  auto [node, fh] = c().create(kRoot, "f", 0640);
  ASSERT_NE(node, 0u) << c().last_error;
  auto open_flags = [&](uint32_t flags) {
    auto r = c().call(FUSE_OPEN, node, Args().add(fuse_open_in{flags, 0}));
    EXPECT_EQ(r.error, 0);
    return r.error ? ~0u : r.as<fuse_open_out>().open_flags;
  };
  EXPECT_EQ(open_flags(O_RDONLY), uint32_t{FOPEN_NOFLUSH});
  EXPECT_EQ(open_flags(O_WRONLY), 0u);
  EXPECT_EQ(open_flags(O_RDWR), 0u);
  struct CreateOut {
    fuse_entry_out entry;
    fuse_open_out open;
  };
  fuse_create_in in{};
  in.flags = O_RDONLY;
  in.mode = S_IFREG | 0600;
  auto created = c().call(FUSE_CREATE, kRoot, Args().add(in).str("ro"));
  ASSERT_EQ(created.error, 0);
  EXPECT_EQ(created.as<CreateOut>().open.open_flags, uint32_t{FOPEN_NOFLUSH});
  in.flags = O_WRONLY;
  created = c().call(FUSE_CREATE, kRoot, Args().add(in).str("wo"));
  ASSERT_EQ(created.error, 0);
  EXPECT_EQ(created.as<CreateOut>().open.open_flags, 0u);
  EXPECT_EQ(c().call(FUSE_FLUSH, node, Args().add(fuse_flush_in{fh, 0, 0, 0})).error, ENOSYS);
}

TEST_F(PassthroughFsTest, DirectoriesLinksAndRemoval) {
  c().init();
  uint64_t d = c().mkdir(kRoot, "d", 0750);
  ASSERT_NE(d, 0u);
  struct stat st;
  ASSERT_EQ(::stat((dir / "d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(c().mkdir(kRoot, "d"), 0u);
  EXPECT_EQ(c().last_error, EEXIST);

  auto [f, fh] = c().create(d, "f");
  ASSERT_NE(f, 0u);
  c().release(fh);
  auto link = c().call(FUSE_LINK, kRoot, Args().add(fuse_link_in{f}).str("hard"));
  ASSERT_EQ(link.error, 0);
  EXPECT_EQ(link.as<fuse_entry_out>().nodeid, f);  // same inode, same nodeid
  EXPECT_EQ(link.as<fuse_entry_out>().attr.nlink, 2u);

  uint64_t s = c().symlink(kRoot, "sl", "d/f");
  ASSERT_NE(s, 0u);
  auto target = c().call(FUSE_READLINK, s);
  EXPECT_EQ(target.str(), "d/f");
  EXPECT_EQ(c().call(FUSE_READLINK, f).error, EINVAL);

  EXPECT_EQ(c().call(FUSE_RMDIR, kRoot, Args().str("d")).error, ENOTEMPTY);
  EXPECT_EQ(c().call(FUSE_UNLINK, d, Args().str("f")).error, 0);
  EXPECT_EQ(c().call(FUSE_RMDIR, kRoot, Args().str("d")).error, 0);
  EXPECT_EQ(::access((dir / "d").c_str(), F_OK), -1);
  // The unlinked inode is still reachable by nodeid until forgotten.
  EXPECT_TRUE(c().getattr(f).has_value());
  EXPECT_EQ(c().call(FUSE_UNLINK, kRoot, Args().str("missing")).error, ENOENT);
}

TEST_F(PassthroughFsTest, Rename2Flags) {
  c().init();
  for (auto n : {"a", "b"}) {
    auto [node, fh] = c().create(kRoot, n);
    c().write(fh, 0, std::vector<uint8_t>(n, n + 1));
    c().release(fh);
  }
  auto rename2 = [&](const char* from, const char* to, uint32_t flags) {
    fuse_rename2_in in{kRoot, flags, 0};
    return c().call(FUSE_RENAME2, kRoot, Args().add(in).str(from).str(to)).error;
  };
  EXPECT_EQ(rename2("a", "b", RENAME_NOREPLACE), EEXIST);
  EXPECT_EQ(rename2("a", "b", RENAME_EXCHANGE), 0);
  EXPECT_EQ(read_file(dir / "a"), "b");
  EXPECT_EQ(read_file(dir / "b"), "a");
  EXPECT_EQ(rename2("a", "c", 0x80), EINVAL);
  EXPECT_EQ(rename2("a", "c", RENAME_NOREPLACE), 0);
  EXPECT_EQ(read_file(dir / "c"), "b");
  fuse_rename_in v1{kRoot};
  EXPECT_EQ(c().call(FUSE_RENAME, kRoot, Args().add(v1).str("c").str("b")).error, 0);
  EXPECT_EQ(read_file(dir / "b"), "b");
  EXPECT_EQ(::access((dir / "c").c_str(), F_OK), -1);
}

TEST_F(PassthroughFsTest, SetattrModeOwnerSizeTimes) {
  c().init();
  auto [f, fh] = c().create(kRoot, "f", 0600);
  c().write(fh, 0, std::vector<uint8_t>(100, 'x'));
  fuse_setattr_in in{};
  in.valid = FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_MTIME | FATTR_ATIME;
  in.mode = 04711;
  in.uid = 1234;
  in.gid = 5678;
  in.size = 10;
  in.mtime = 1000000;
  in.mtimensec = 5;
  in.atime = 2000000;
  auto r = c().call(FUSE_SETATTR, f, Args().add(in));
  ASSERT_EQ(r.error, 0);
  auto attr = r.as<fuse_attr_out>().attr;
  EXPECT_EQ(attr.size, 10u);
  EXPECT_EQ(attr.uid, 1234u);
  EXPECT_EQ(attr.gid, 5678u);
  EXPECT_EQ(attr.mtime, 1000000u);
  EXPECT_EQ(attr.mtimensec, 5u);
  struct stat st;
  ASSERT_EQ(::stat((dir / "f").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 10);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_mode & 07777, 04711u);  // chmod after chown keeps set-uid
  EXPECT_EQ(st.st_atim.tv_sec, 2000000);

  fuse_setattr_in by_fh{};
  by_fh.valid = FATTR_SIZE | FATTR_FH;
  by_fh.fh = fh;
  by_fh.size = 3;
  EXPECT_EQ(c().call(FUSE_SETATTR, f, Args().add(by_fh)).as<fuse_attr_out>().attr.size, 3u);
  by_fh.fh = fh + 100;
  EXPECT_EQ(c().call(FUSE_SETATTR, f, Args().add(by_fh)).error, EBADF);
}

TEST_F(PassthroughFsTest, Xattrs) {
  c().init();
  auto [f, fh] = c().create(kRoot, "x");
  c().release(fh);
  fuse_setxattr_in compat{5, 0, 0, 0};
  auto set = [&](const char* name, std::string_view value, uint32_t flags = 0) {
    compat.size = static_cast<uint32_t>(value.size());
    compat.flags = flags;
    Args a;
    a.raw(std::string_view(reinterpret_cast<const char*>(&compat), 8)).str(name).raw(value);
    return c().call(FUSE_SETXATTR, f, a).error;
  };
  ASSERT_EQ(set("user.color", "green"), 0);
  EXPECT_EQ(set("user.color", "red", XATTR_CREATE), EEXIST);
  EXPECT_EQ(set("user.other", "1", XATTR_REPLACE), ENODATA);
  char host[16] = {};
  ASSERT_EQ(::getxattr((dir / "x").c_str(), "user.color", host, sizeof host), 5);
  EXPECT_STREQ(host, "green");

  auto size_q = c().call(FUSE_GETXATTR, f, Args().add(fuse_getxattr_in{0, 0}).str("user.color"));
  EXPECT_EQ(size_q.as<fuse_getxattr_out>().size, 5u);
  EXPECT_EQ(c().call(FUSE_GETXATTR, f, Args().add(fuse_getxattr_in{64, 0}).str("user.color")).str(),
            "green");
  EXPECT_EQ(c().call(FUSE_GETXATTR, f, Args().add(fuse_getxattr_in{2, 0}).str("user.color")).error,
            ERANGE);
  EXPECT_EQ(c().call(FUSE_GETXATTR, f, Args().add(fuse_getxattr_in{64, 0}).str("user.nope")).error,
            ENODATA);
  auto list = c().call(FUSE_LISTXATTR, f, Args().add(fuse_getxattr_in{256, 0}));
  EXPECT_NE(list.str().find(std::string("user.color\0", 11)), std::string::npos);
  EXPECT_EQ(c().call(FUSE_REMOVEXATTR, f, Args().str("user.color")).error, 0);
  EXPECT_EQ(::getxattr((dir / "x").c_str(), "user.color", host, sizeof host), -1);
  // A value longer than the request says it is.
  compat.size = 100;
  Args bad;
  bad.raw(std::string_view(reinterpret_cast<const char*>(&compat), 8)).str("user.a").raw("xy");
  EXPECT_EQ(c().call(FUSE_SETXATTR, f, bad).error, EINVAL);
}

TEST_F(PassthroughFsTest, AShareWithoutXattrsAnswersEnosysSoTheGuestStopsAsking) {
  std::ofstream(dir / "f") << "x";
  ASSERT_EQ(::setxattr((dir / "f").c_str(), "user.kept", "1", 1, 0), 0);
  for (bool readonly : {false, true}) {
    FsConfig cfg{dir.path(), CachePolicy::kCoherent, readonly};
    cfg.xattrs = false;
    auto r = PassthroughFs::create(cfg);
    ASSERT_TRUE(r.ok());
    FuseTestClient nc(**r);
    nc.init();
    uint64_t f = nc.lookup(kRoot, "f");
    ASSERT_NE(f, 0u);
    // ENOSYS (not EROFS on a read-only share): only ENOSYS makes the guest's
    // FUSE set no_getxattr and friends and answer EOPNOTSUPP itself.
    fuse_setxattr_in compat{1, 0, 0, 0};
    Args set;
    set.raw(std::string_view(reinterpret_cast<const char*>(&compat), 8)).str("user.a").raw("1");
    EXPECT_EQ(nc.call(FUSE_SETXATTR, f, set).error, ENOSYS);
    EXPECT_EQ(
        nc.call(FUSE_GETXATTR, f, Args().add(fuse_getxattr_in{64, 0}).str("security.capability"))
            .error,
        ENOSYS);
    EXPECT_EQ(nc.call(FUSE_LISTXATTR, f, Args().add(fuse_getxattr_in{256, 0})).error, ENOSYS);
    EXPECT_EQ(nc.call(FUSE_REMOVEXATTR, f, Args().str("user.kept")).error, ENOSYS);
    // Malformed ones too: nothing of them is read.
    EXPECT_EQ(nc.call(FUSE_GETXATTR, f, Args().raw("x")).error, ENOSYS);
  }
  char v[4];
  EXPECT_EQ(::getxattr((dir / "f").c_str(), "user.kept", v, sizeof v), 1);  // untouched
}

// A container root (FsConfig::xattrs_if_present): xattrs are served only if
// its tree holds any, so an image without them costs the guest no GETXATTR
// security.capability per file written, and one with them keeps its file
// capabilities.
TEST_F(PassthroughFsTest, ARootServesXattrsOnlyIfItsTreeHoldsAny) {
  std::ofstream(dir / "f") << "x";
  auto serve = [&](bool tree_has_xattrs) {
    FsConfig cfg{dir.path(), CachePolicy::kExclusive, false};
    cfg.xattrs_if_present = true;
    auto r = PassthroughFs::create(cfg);
    EXPECT_TRUE(r.ok());
    std::unique_ptr<PassthroughFs> fs = std::move(*r);
    fs->xattr_scan()->wait();
    EXPECT_EQ(fs->xattr_scan()->state(),
              tree_has_xattrs ? fuse::XattrScan::State::kPresent : fuse::XattrScan::State::kAbsent);
    return fs;
  };
  const Args get_cap = Args().add(fuse_getxattr_in{64, 0}).str("security.capability");
  fuse_setxattr_in compat{1, 0, 0, 0};
  Args set;
  set.raw(std::string_view(reinterpret_cast<const char*>(&compat), 8)).str("user.a").raw("1");
  {
    auto fs = serve(false);
    FuseTestClient nc(*fs);
    nc.init();
    uint64_t f = nc.lookup(kRoot, "f");
    ASSERT_NE(f, 0u);
    EXPECT_EQ(nc.call(FUSE_GETXATTR, f, get_cap).error, ENOSYS);  // the guest stops asking
    EXPECT_EQ(nc.call(FUSE_SETXATTR, f, set).error, ENOSYS);      // nor can it add one
    EXPECT_EQ(nc.call(FUSE_LISTXATTR, f, Args().add(fuse_getxattr_in{256, 0})).error, ENOSYS);
  }
  char v[4];
  EXPECT_LT(::getxattr((dir / "f").c_str(), "user.a", v, sizeof v), 0);
  {
    // One the guest sets before it ever reads one stays served.
    auto fs = serve(false);
    FuseTestClient nc(*fs);
    nc.init();
    uint64_t f = nc.lookup(kRoot, "f");
    EXPECT_EQ(nc.call(FUSE_SETXATTR, f, set).error, 0);
    auto got = nc.call(FUSE_GETXATTR, f, Args().add(fuse_getxattr_in{64, 0}).str("user.a"));
    EXPECT_EQ(got.error, 0);
    EXPECT_EQ(got.str(), "1");
  }
  {
    // Now the tree holds one: served from the start.
    auto fs = serve(true);
    FuseTestClient nc(*fs);
    nc.init();
    uint64_t f = nc.lookup(kRoot, "f");
    EXPECT_EQ(nc.call(FUSE_GETXATTR, f, get_cap).error, ENODATA);
    auto got = nc.call(FUSE_GETXATTR, f, Args().add(fuse_getxattr_in{64, 0}).str("user.a"));
    EXPECT_EQ(got.error, 0);
    EXPECT_EQ(got.str(), "1");
  }
}

// FsConfig::precreate: once the guest made two files of a kind in a row, the
// next ones are files made ahead of time, linked under the new name; they
// must look exactly as made on request (mode, owner, times of now).
TEST_F(PassthroughFsTest, FilesMadeAheadOfTimeLookMadeOnRequest) {
  for (bool create : {false, true}) {
    SCOPED_TRACE(create ? "CREATE" : "MKNOD");
    TempDir share;
    FsConfig cfg{share.path(), create ? CachePolicy::kCoherent : CachePolicy::kExclusive, false};
    cfg.precreate = true;
    cfg.handles = create;  // CREATE needs handles; without, the guest makes files by MKNOD
    auto r = PassthroughFs::create(cfg);
    ASSERT_TRUE(r.ok());
    std::unique_ptr<PassthroughFs> fs = std::move(*r);
    ASSERT_NE(fs->tmpfile_stock(), nullptr);
    FuseTestClient nc(*fs);
    nc.init();
    auto make = [&](const std::string& name) {
      if (!create) return nc.mknod(kRoot, name, S_IFREG | 0640) != 0;
      auto [node, fh] = nc.create(kRoot, name, 0640, O_WRONLY);
      if (!node) return false;
      // The handle writes (opened for the guest's O_WRONLY).
      fuse_write_in w{fh, 0, 3, 0, 0, 0, 0};
      return nc.call(FUSE_WRITE, node, Args().add(w), 1 << 16, {'a', 'b', 'c'}).error == 0;
    };
    ASSERT_TRUE(make("f0"));
    ASSERT_TRUE(make("f1"));  // two in a row: the stock is aimed at the kind
    fs->tmpfile_stock()->wait_idle();
    ASSERT_EQ(fs->tmpfile_stock()->size(), 1u);
    ::usleep(20000);  // the stocked files' own times are older than this
    struct timespec before;
    ::clock_gettime(CLOCK_REALTIME_COARSE, &before);  // as file times are
    ASSERT_TRUE(make("f2"));
    EXPECT_EQ(fs->tmpfile_stock()->taken(), 1u);
    EXPECT_EQ(fs->tmpfile_stock()->missed(), 2u);
    struct stat a, b;
    ASSERT_EQ(::lstat((share / "f2").c_str(), &a), 0);
    ASSERT_EQ(::lstat((share / "f1").c_str(), &b), 0);
    EXPECT_EQ(a.st_mode, b.st_mode);
    EXPECT_EQ(a.st_mode & 07777, 0640u);
    EXPECT_EQ(a.st_uid, b.st_uid);
    EXPECT_EQ(a.st_gid, b.st_gid);
    EXPECT_EQ(a.st_nlink, 1u);
    EXPECT_EQ(a.st_size, create ? 3 : 0);
    for (const timespec& t : {a.st_atim, a.st_mtim, a.st_ctim})
      EXPECT_TRUE(t.tv_sec > before.tv_sec ||
                  (t.tv_sec == before.tv_sec && t.tv_nsec >= before.tv_nsec));
    // An existing name is refused as before, stock or not.
    if (create) {
      EXPECT_EQ(nc.call(FUSE_CREATE, kRoot,
                        Args().add(fuse_create_in{O_WRONLY | O_EXCL, 0640, 022, 0}).str("f2"))
                    .error,
                EEXIST);
    } else {
      EXPECT_EQ(nc.mknod(kRoot, "f2", S_IFREG | 0640), 0u);
      EXPECT_EQ(nc.last_error, EEXIST);
    }
    EXPECT_EQ(share.entries(), (std::vector<std::string>{"f0", "f1", "f2"}));
  }
}

// Reads a whole directory with READDIR(PLUS) buffers of `size` bytes.
// `handleless`: reads go by fh 0, without OPENDIR.
std::map<std::string, uint64_t> list_dir(FuseTestClient& c, uint64_t node, bool plus, uint32_t size,
                                         int* calls, bool handleless = false) {
  uint64_t fh = handleless ? 0 : c.open(node, O_RDONLY, FUSE_OPENDIR);
  if (!handleless) {
    EXPECT_NE(fh, 0u);
  }
  std::map<std::string, uint64_t> names;
  uint64_t off = 0;
  *calls = 0;
  for (;;) {
    fuse_read_in in{};
    in.fh = fh;
    in.offset = off;
    in.size = size;
    auto r = c.call(plus ? FUSE_READDIRPLUS : FUSE_READDIR, node, Args().add(in), size + 16);
    EXPECT_EQ(r.error, 0);
    ++*calls;
    if (r.data.empty() || *calls > 10000) break;
    EXPECT_LE(r.data.size(), size);
    size_t pos = 0;
    while (pos < r.data.size()) {
      fuse_entry_out e{};
      if (plus) {
        std::memcpy(&e, r.data.data() + pos, sizeof e);
        pos += sizeof e;
      }
      fuse_dirent d;
      std::memcpy(&d, r.data.data() + pos, sizeof d);
      std::string name(reinterpret_cast<const char*>(r.data.data() + pos + sizeof d), d.namelen);
      EXPECT_FALSE(names.count(name)) << "duplicate " << name;
      names[name] = e.nodeid;
      pos += (sizeof d + d.namelen + 7) & ~size_t{7};
      off = d.off;
    }
  }
  c.release(fh, FUSE_RELEASEDIR);
  return names;
}

TEST_F(PassthroughFsTest, ReaddirAndReaddirplusAcrossBufferSizes) {
  c().init();
  std::set<std::string> want = {".", ".."};
  for (int i = 0; i < 150; ++i) {
    std::string n = "file-" + std::to_string(i) + std::string(i % 40, 'z');
    std::ofstream(dir / n) << i;
    want.insert(n);
  }
  for (bool plus : {false, true}) {
    for (uint32_t size : {200u, 333u, 4096u, 65536u}) {
      int calls = 0;
      auto names = list_dir(c(), kRoot, plus, size, &calls);
      std::set<std::string> got;
      for (auto& [n, id] : names) got.insert(n);
      EXPECT_EQ(got, want) << "plus=" << plus << " size=" << size;
      if (size == 200u) {
        EXPECT_GT(calls, 10);
      }
      if (plus) {
        EXPECT_EQ(names["."], 0u);
        EXPECT_NE(names["file-7zzzzzzz"], 0u);
        EXPECT_EQ(names["file-7zzzzzzz"], c().lookup(kRoot, "file-7zzzzzzz"));
      }
    }
  }
  // Each READDIRPLUS entry counted a lookup the guest will forget.
  const size_t before = fs->inode_count();
  EXPECT_GE(before, 151u);
  for (auto& n : want) {
    if (n == "." || n == "..") continue;
    uint64_t id = c().lookup(kRoot, n);
    c().forget(id, 1000);
  }
  EXPECT_EQ(fs->inode_count(), 1u);
  // Too small for even one entry: an empty (end) reply, not an overflow.
  int calls = 0;
  EXPECT_TRUE(list_dir(c(), kRoot, true, 50, &calls).empty());
}

TEST_F(PassthroughFsTest, ForgetBatchForgetAndDestroy) {
  c().init();
  uint64_t a = c().mkdir(kRoot, "a");
  uint64_t b = c().mkdir(kRoot, "b");
  EXPECT_EQ(c().lookup(kRoot, "a"), a);
  EXPECT_EQ(fs->inode_count(), 3u);
  c().forget(a, 1);
  EXPECT_TRUE(c().getattr(a).has_value());
  Args batch;
  batch.add(fuse_batch_forget_in{3, 0}).add(fuse_forget_one{a, 1}).add(fuse_forget_one{b, 1});
  // count says 3 but only 2 are present: the missing one is ignored.
  EXPECT_EQ(c().call(FUSE_BATCH_FORGET, 0, batch).used, 0u);
  EXPECT_EQ(fs->inode_count(), 1u);
  EXPECT_FALSE(c().getattr(a).has_value());
  EXPECT_EQ(c().last_error, EBADF);
  EXPECT_NE(c().create(kRoot, "f").second, 0u);
  EXPECT_EQ(fs->handle_count(), 1u);
  EXPECT_EQ(c().call(FUSE_DESTROY, 0).error, 0);
  EXPECT_EQ(fs->handle_count(), 0u);
  EXPECT_EQ(fs->inode_count(), 1u);
  EXPECT_EQ(c().call(FUSE_GETATTR, kRoot, Args().add(fuse_getattr_in{})).error, EIO);
}

TEST_F(PassthroughFsTest, StatfsAccessFsyncFallocateLseekCopyRange) {
  c().init();
  auto st = c().call(FUSE_STATFS, kRoot);
  ASSERT_EQ(st.error, 0);
  EXPECT_GT(st.as<fuse_statfs_out>().st.bsize, 0u);
  auto [f, fh] = c().create(kRoot, "f", 0640);
  EXPECT_EQ(c().call(FUSE_ACCESS, f, Args().add(fuse_access_in{R_OK | W_OK, 0})).error, 0);
  EXPECT_EQ(c().call(FUSE_ACCESS, f, Args().add(fuse_access_in{X_OK, 0})).error, EACCES);
  c().uid = 999;
  c().gid = 999;
  EXPECT_EQ(c().call(FUSE_ACCESS, f, Args().add(fuse_access_in{R_OK, 0})).error, EACCES);
  c().uid = c().gid = 0;

  fuse_fallocate_in fa{fh, 0, 1 << 20, 0, 0};
  EXPECT_EQ(c().call(FUSE_FALLOCATE, f, Args().add(fa)).error, 0);
  c().write(fh, 8192, {'d', 'a', 't', 'a'});
  fuse_fsync_in fs_in{fh, FUSE_FSYNC_FDATASYNC, 0};
  EXPECT_EQ(c().call(FUSE_FSYNC, f, Args().add(fs_in)).error, 0);
  fuse_flush_in fl{};
  fl.fh = fh;
  // Nothing to flush: ENOSYS, so the guest stops asking.
  EXPECT_EQ(c().call(FUSE_FLUSH, f, Args().add(fl)).error, ENOSYS);
  fuse_lseek_in ls{fh, 0, SEEK_END, 0};
  EXPECT_EQ(c().call(FUSE_LSEEK, f, Args().add(ls)).as<fuse_lseek_out>().offset, 1u << 20);
  ls.whence = 77;
  EXPECT_EQ(c().call(FUSE_LSEEK, f, Args().add(ls)).error, EINVAL);

  auto [g, gh] = c().create(kRoot, "g");
  fuse_copy_file_range_in cr{fh, 8192, g, gh, 2, 4, 0};
  auto copied = c().call(FUSE_COPY_FILE_RANGE, f, Args().add(cr));
  ASSERT_EQ(copied.error, 0);
  EXPECT_EQ(copied.as<fuse_write_out>().size, 4u);
  EXPECT_EQ(read_file(dir / "g"), std::string("\0\0data", 6));
}

TEST_F(PassthroughFsTest, ReadonlyRefusesEveryMutation) {
  std::ofstream(dir / "f") << "hello";
  ::mkdir((dir / "d").c_str(), 0755);
  make(CachePolicy::kCoherent, true);
  c().init();
  uint64_t f = c().lookup(kRoot, "f");
  ASSERT_NE(f, 0u);
  EXPECT_EQ(c().mkdir(kRoot, "x"), 0u);
  EXPECT_EQ(c().last_error, EROFS);
  EXPECT_EQ(c().create(kRoot, "y").first, 0u);
  EXPECT_EQ(c().last_error, EROFS);
  EXPECT_EQ(c().open(f, O_WRONLY), 0u);
  EXPECT_EQ(c().last_error, EROFS);
  EXPECT_EQ(c().open(f, O_RDONLY | O_TRUNC), 0u);
  EXPECT_EQ(c().call(FUSE_UNLINK, kRoot, Args().str("f")).error, EROFS);
  EXPECT_EQ(c().call(FUSE_RMDIR, kRoot, Args().str("d")).error, EROFS);
  EXPECT_EQ(c().call(FUSE_SETATTR, f, Args().add(fuse_setattr_in{})).error, EROFS);
  EXPECT_EQ(c().call(FUSE_REMOVEXATTR, f, Args().str("user.a")).error, EROFS);
  EXPECT_EQ(c().call(FUSE_ACCESS, f, Args().add(fuse_access_in{W_OK, 0})).error, EROFS);
  uint64_t fh = c().open(f, O_RDONLY);
  ASSERT_NE(fh, 0u);
  EXPECT_EQ(c().write(fh, 0, {'x'}), EROFS);
  EXPECT_EQ(c().read(fh, 0, 100).str(), "hello");
  EXPECT_EQ(read_file(dir / "f"), "hello");
}

// An exclusive share serves without open-file handles: the guest, told
// ENOSYS, stops sending OPEN/OPENDIR (and their synchronous RELEASEs),
// creates by MKNOD, and names the node with fh 0.
TEST_F(PassthroughFsTest, ExclusiveShareServesWithoutHandles) {
  std::ofstream(dir / "old") << "old content";
  ::mkfifo((dir / "fifo").c_str(), 0644);
  ::symlink("old", (dir / "link").c_str());
  make(CachePolicy::kExclusive, false);
  auto init = c().init();
  // No OPEN carries O_TRUNC any more: the guest must send it as SETATTR.
  EXPECT_FALSE(init.flags & FUSE_ATOMIC_O_TRUNC);
  uint64_t old = c().lookup(kRoot, "old");
  ASSERT_NE(old, 0u);
  EXPECT_EQ(c().open(old, O_RDWR), 0u);
  EXPECT_EQ(c().last_error, ENOSYS);
  EXPECT_EQ(c().create(kRoot, "new").first, 0u);
  EXPECT_EQ(c().last_error, ENOSYS);
  EXPECT_FALSE(std::filesystem::exists(dir / "new"));
  EXPECT_EQ(fs->handle_count(), 0u);

  // The kernel's fallback: MKNOD, then I/O by node.
  uint64_t f = c().mknod(kRoot, "new", S_IFREG | 0444);
  ASSERT_NE(f, 0u) << c().last_error;
  uint32_t written = 0;
  EXPECT_EQ(c().write(0, 0, {'a', 'b', 'c', 'd'}, &written, 0, f), 0);
  EXPECT_EQ(written, 4u);
  EXPECT_EQ(c().read(0, 1, 100, f).str(), "bcd");
  EXPECT_EQ(read_file(dir / "new"), "abcd");
  // ftruncate and O_TRUNC arrive as SETATTR with fh 0 (or no fh at all).
  fuse_setattr_in sa{};
  sa.valid = FATTR_SIZE | FATTR_FH;
  sa.size = 2;
  EXPECT_EQ(c().call(FUSE_SETATTR, f, Args().add(sa)).error, 0);
  EXPECT_EQ(read_file(dir / "new"), "ab");
  fuse_fsync_in fsync{};
  EXPECT_EQ(c().call(FUSE_FSYNC, f, Args().add(fsync)).error, 0);
  EXPECT_EQ(c().call(FUSE_FSYNCDIR, kRoot, Args().add(fsync)).error, 0);
  fuse_lseek_in ls{0, 0, SEEK_DATA, 0};
  EXPECT_EQ(c().call(FUSE_LSEEK, f, Args().add(ls)).error, 0);
  fuse_copy_file_range_in cr{0, 0, f, 0, 8, 3, 0};
  auto copied = c().call(FUSE_COPY_FILE_RANGE, old, Args().add(cr));
  ASSERT_EQ(copied.error, 0);
  EXPECT_EQ(copied.as<fuse_write_out>().size, 3u);
  EXPECT_EQ(read_file(dir / "new"), std::string("ab\0\0\0\0\0\0old", 11));
  int calls = 0;
  // Nor directory handles: READDIR by fh 0, one fd per listing (DirListings).
  EXPECT_EQ(c().open(kRoot, O_RDONLY, FUSE_OPENDIR), 0u);
  EXPECT_EQ(c().last_error, ENOSYS);
  auto names = list_dir(c(), kRoot, true, 200, &calls, true);
  EXPECT_GT(calls, 2);
  EXPECT_TRUE(names.count("new") && names.count("old") && names.count("fifo"));
  EXPECT_EQ(fs->handle_count(), 0u);
  EXPECT_EQ(fs->listing_count(), 1u);
  fuse_read_in rd{};
  rd.size = 4096;
  EXPECT_EQ(c().call(FUSE_READDIR, f, Args().add(rd)).error, ENOTDIR);

  // A file the guest still holds open after unlinking it (a temp file) is
  // reopened through its O_PATH fd all the same.
  uint64_t tmp = c().mknod(kRoot, "tmp", S_IFREG | 0600);
  ASSERT_NE(tmp, 0u);
  EXPECT_EQ(c().call(FUSE_UNLINK, kRoot, Args().str("tmp")).error, 0);
  EXPECT_EQ(c().write(0, 0, {'t', 'm', 'p'}, nullptr, 0, tmp), 0);
  EXPECT_EQ(c().read(0, 0, 10, tmp).str(), "tmp");
  EXPECT_FALSE(std::filesystem::exists(dir / "tmp"));

  // Only regular files and directories are reopened, never a FIFO (which
  // would block us) or a symlink (which would be followed).
  uint64_t fifo = c().lookup(kRoot, "fifo"), link = c().lookup(kRoot, "link");
  ASSERT_NE(fifo, 0u);
  ASSERT_NE(link, 0u);
  EXPECT_EQ(c().read(0, 0, 10, fifo).error, EACCES);
  EXPECT_EQ(c().write(0, 0, {'x'}, nullptr, 0, link), EACCES);
  EXPECT_EQ(read_file(dir / "old"), "old content");
  // A handle it never got, or a node it does not hold, still misses.
  EXPECT_EQ(c().read(7, 0, 10, f).error, EBADF);
  EXPECT_EQ(c().read(0, 0, 10, 999).error, EBADF);
  // Sealed, writes by node are refused like any other mutation.
  fs->seal_readonly();
  EXPECT_EQ(c().write(0, 0, {'x'}, nullptr, 0, f), EROFS);
  EXPECT_EQ(c().read(0, 0, 100, f).str(), std::string("ab\0\0\0\0\0\0old", 11));

  // Coherent shares told to keep handles do: close-to-open drops the
  // guest's cache.
  make(CachePolicy::kCoherent, false);
  EXPECT_TRUE(c().init().flags & FUSE_ATOMIC_O_TRUNC);
  uint64_t o = c().lookup(kRoot, "old");
  EXPECT_NE(c().open(o, O_RDONLY), 0u);
  EXPECT_EQ(c().read(0, 0, 10, o).error, EBADF);
  // ...and so do exclusive ones (FsConfig::handles).
  FsConfig with{dir.path(), CachePolicy::kExclusive, false};
  with.handles = true;
  auto h = PassthroughFs::create(with);
  ASSERT_TRUE(h.ok());
  FuseTestClient hc(**h);
  EXPECT_TRUE(hc.init().flags & FUSE_ATOMIC_O_TRUNC);
  EXPECT_NE(hc.open(hc.lookup(kRoot, "old"), O_RDONLY), 0u);
}

// A bind mount's share (coherent) serves without handles too: no OPEN, no
// synchronous RELEASE per close. The guest keeps pages and listings across
// opens, and FUSE_AUTO_INVAL_DATA keeps them within the share's 1 s bound.
// An O_APPEND write lands at the host's end of file, as an O_APPEND handle's
// would, since the host may have appended meanwhile.
TEST_F(PassthroughFsTest, CoherentShareServesWithoutHandles) {
  std::ofstream(dir / "log") << "host1\n";
  auto r = PassthroughFs::create({dir.path(), CachePolicy::kCoherent, false});
  ASSERT_TRUE(r.ok());
  FuseTestClient b(**r);
  auto init = b.init();
  EXPECT_TRUE(init.flags & FUSE_AUTO_INVAL_DATA);
  EXPECT_FALSE(init.flags & FUSE_ATOMIC_O_TRUNC);
  EXPECT_FALSE(init.flags & FUSE_WRITEBACK_CACHE);
  const uint64_t log = b.lookup(kRoot, "log");
  ASSERT_NE(log, 0u);
  EXPECT_EQ(b.open(log, O_WRONLY | O_APPEND), 0u);
  EXPECT_EQ(b.last_error, ENOSYS);
  EXPECT_EQ(b.open(kRoot, O_RDONLY, FUSE_OPENDIR), 0u);
  EXPECT_EQ(b.last_error, ENOSYS);
  EXPECT_EQ(b.create(kRoot, "new").first, 0u);
  EXPECT_EQ(b.last_error, ENOSYS);
  // The guest thinks the file ends at 6; the host has appended since.
  std::ofstream(dir / "log", std::ios::app) << "host2\n";
  EXPECT_EQ(b.write(0, 6, {'g', '\n'}, nullptr, 0, log, O_WRONLY | O_APPEND), 0);
  EXPECT_EQ(read_file(dir / "log"), "host1\nhost2\ng\n");
  // Without O_APPEND the guest's offset is where the data goes.
  EXPECT_EQ(b.write(0, 0, {'H'}, nullptr, 0, log, O_WRONLY), 0);
  EXPECT_EQ(read_file(dir / "log"), "Host1\nhost2\ng\n");
  EXPECT_EQ((**r).handle_count(), 0u);
}

// A read-only container root: the agent makes its mountpoints first, then
// the share is sealed and nothing changes the host directory any more.
TEST_F(PassthroughFsTest, SealedShareRefusesLaterMutations) {
  make(CachePolicy::kExclusive, false);
  c().init();
  EXPECT_NE(c().mkdir(kRoot, "proc"), 0u);
  fs->seal_readonly();
  EXPECT_EQ(c().mkdir(kRoot, "later"), 0u);
  EXPECT_EQ(c().last_error, EROFS);
  EXPECT_EQ(c().create(kRoot, "f").first, 0u);
  EXPECT_EQ(c().last_error, EROFS);
  EXPECT_TRUE(std::filesystem::is_directory(dir / "proc"));
  EXPECT_FALSE(std::filesystem::exists(dir / "later"));
}

}  // namespace
}  // namespace runvm
