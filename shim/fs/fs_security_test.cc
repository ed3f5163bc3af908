// Containment and ownership: the guest must never reach outside the shared
// directory, make us follow a symlink or open a host device, and files it
// creates must belong to the requesting uid/gid with exactly its mode.
#include <gtest/gtest.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "shim/fs/fuse_test_client.h"
#include "shim/fs/passthrough_fs.h"
#include "tests/support/require.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

using testing::Args;
using testing::FuseTestClient;
using testing::TempDir;

constexpr uint64_t kRoot = FUSE_ROOT_ID;

class FsSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir.path().empty());
    // Something outside the share the guest must not reach.
    outside = outside_dir.path();
    std::ofstream(outside + "/secret") << "top secret";
    ASSERT_EQ(::symlink(outside.c_str(), (dir / "esc").c_str()), 0);
    ASSERT_EQ(::symlink((outside + "/secret").c_str(), (dir / "esc_file").c_str()), 0);
    ASSERT_EQ(::symlink("../../../../../../../../", (dir / "up").c_str()), 0);
    make();
  }
  void make() {
    // With handles: these cases open and create by handle (the handle-less
    // reopen is checked in PassthroughFsTest.*WithoutHandles).
    FsConfig cfg{dir.path(), CachePolicy::kCoherent, false};
    cfg.handles = true;
    auto r = PassthroughFs::create(cfg);
    ASSERT_TRUE(r.ok()) << r.error().message;
    fs = std::move(*r);
    client = std::make_unique<FuseTestClient>(*fs);
    client->init();
  }
  FuseTestClient& c() { return *client; }
  std::vector<std::string> outside_entries() {
    std::vector<std::string> v;
    for (auto& e : std::filesystem::directory_iterator(outside)) v.push_back(e.path().filename());
    return v;
  }

  TempDir dir, outside_dir;
  std::string outside;
  std::unique_ptr<PassthroughFs> fs;
  std::unique_ptr<FuseTestClient> client;
};

TEST_F(FsSecurityTest, NamesThatAreNotOneComponentAreRejected) {
  for (std::string bad : {"..", ".", "", "a/b", "/etc", "../esc", "esc/secret"}) {
    EXPECT_EQ(c().lookup(kRoot, bad), 0u) << bad;
    EXPECT_EQ(c().last_error, EINVAL) << bad;
    EXPECT_EQ(c().mkdir(kRoot, bad), 0u) << bad;
    EXPECT_EQ(c().create(kRoot, bad).first, 0u) << bad;
  }
  Args unterminated;
  unterminated.raw("noterminator");
  EXPECT_EQ(c().call(FUSE_LOOKUP, kRoot, unterminated).error, EINVAL);
}

// A name longer than NAME_MAX (FUSE passes up to 1024 bytes): ENAMETOOLONG,
// as Linux answers, for every operation that takes a name.
TEST_F(FsSecurityTest, NamesLongerThanNameMaxAreTooLong) {
  const std::string longname(256, 'n'), fine(255, 'n');
  EXPECT_EQ(c().lookup(kRoot, longname), 0u);
  EXPECT_EQ(c().last_error, ENAMETOOLONG);
  EXPECT_EQ(c().mkdir(kRoot, longname), 0u);
  EXPECT_EQ(c().last_error, ENAMETOOLONG);
  EXPECT_EQ(c().symlink(kRoot, longname, "t"), 0u);
  EXPECT_EQ(c().last_error, ENAMETOOLONG);
  EXPECT_EQ(c().call(FUSE_UNLINK, kRoot, Args().str(longname)).error, ENAMETOOLONG);
  fuse_rename_in rn{kRoot};
  EXPECT_EQ(c().call(FUSE_RENAME, kRoot, Args().add(rn).str(longname).str("x")).error,
            ENAMETOOLONG);
  EXPECT_EQ(c().call(FUSE_RENAME, kRoot, Args().add(rn).str("esc").str(longname)).error,
            ENAMETOOLONG);
  EXPECT_EQ(c().call(FUSE_RENAME, kRoot, Args().add(rn).str("a/b").str(longname)).error, EINVAL);
  // 255 bytes is a name: looked up, and missing.
  EXPECT_EQ(c().lookup(kRoot, fine), 0u);
  EXPECT_EQ(c().last_error, 0);
}

TEST_F(FsSecurityTest, SymlinksAreNeverFollowed) {
  uint64_t esc = c().lookup(kRoot, "esc");
  ASSERT_NE(esc, 0u);
  auto attr = c().getattr(esc);
  ASSERT_TRUE(attr);
  EXPECT_TRUE(S_ISLNK(attr->mode));  // the link itself, not the directory it names
  EXPECT_EQ(c().lookup(esc, "secret"), 0u);
  EXPECT_EQ(c().last_error, ENOTDIR);
  EXPECT_EQ(c().open(esc, O_RDONLY, FUSE_OPENDIR), 0u);
  EXPECT_EQ(c().mkdir(esc, "planted"), 0u);
  EXPECT_EQ(c().create(esc, "planted").first, 0u);
  EXPECT_EQ(c().symlink(esc, "planted", "x"), 0u);

  uint64_t file_link = c().lookup(kRoot, "esc_file");
  ASSERT_NE(file_link, 0u);
  EXPECT_EQ(c().open(file_link, O_RDONLY), 0u);
  EXPECT_EQ(c().last_error, EACCES);
  EXPECT_EQ(c().open(file_link, O_WRONLY | O_TRUNC), 0u);
  // CREATE over an existing symlink neither follows nor truncates it.
  EXPECT_EQ(c().create(kRoot, "esc_file", 0644, O_RDWR | O_TRUNC).first, 0u);
  EXPECT_EQ(c().last_error, ELOOP);
  fuse_setattr_in trunc{};
  trunc.valid = FATTR_SIZE;
  EXPECT_NE(c().call(FUSE_SETATTR, file_link, Args().add(trunc)).error, 0);
  fuse_setattr_in chmod{};
  chmod.valid = FATTR_MODE;
  chmod.mode = 0777;
  EXPECT_NE(c().call(FUSE_SETATTR, file_link, Args().add(chmod)).error, 0);

  uint64_t up = c().lookup(kRoot, "up");
  EXPECT_EQ(c().lookup(up, "etc"), 0u);
  EXPECT_EQ(c().last_error, ENOTDIR);

  std::ifstream in(outside + "/secret");
  std::string s;
  std::getline(in, s);
  EXPECT_EQ(s, "top secret");
  struct stat st;
  ASSERT_EQ(::stat((outside + "/secret").c_str(), &st), 0);
  EXPECT_NE(st.st_mode & 0777, 0777u);
  EXPECT_EQ(outside_entries(), std::vector<std::string>{"secret"});
}

TEST_F(FsSecurityTest, AbsoluteSymlinkTargetsAreStoredVerbatim) {
  uint64_t abs = c().symlink(kRoot, "abs", outside + "/secret");
  ASSERT_NE(abs, 0u);
  EXPECT_EQ(c().call(FUSE_READLINK, abs).str(), outside + "/secret");
  char buf[256] = {};
  ASSERT_GT(::readlink((dir / "abs").c_str(), buf, sizeof buf - 1), 0);
  EXPECT_EQ(std::string(buf), outside + "/secret");
  EXPECT_EQ(c().open(abs, O_RDONLY), 0u);
  // Xattrs land on the link (user.* is refused on symlinks), not its target.
  fuse_setxattr_in x{1, 0, 0, 0};
  Args a;
  a.raw(std::string_view(reinterpret_cast<const char*>(&x), 8)).str("user.t").raw("1");
  EXPECT_EQ(c().call(FUSE_SETXATTR, abs, a).error, EPERM);
  char v[4];
  EXPECT_EQ(::getxattr((outside + "/secret").c_str(), "user.t", v, sizeof v), -1);
}

TEST_F(FsSecurityTest, RenamesAndLinksStayInside) {
  auto [f, fh] = c().create(kRoot, "f");
  ASSERT_NE(f, 0u);
  uint64_t esc = c().lookup(kRoot, "esc");
  auto rename = [&](uint64_t newdir, const char* to) {
    fuse_rename2_in in{newdir, 0, 0};
    return c().call(FUSE_RENAME2, kRoot, Args().add(in).str("f").str(to)).error;
  };
  EXPECT_EQ(rename(kRoot, "../f"), EINVAL);
  EXPECT_EQ(rename(kRoot, ".."), EINVAL);
  EXPECT_EQ(rename(esc, "f"), ENOTDIR);  // into the symlinked outside dir
  EXPECT_EQ(rename(424242, "f"), EBADF);
  auto link = c().call(FUSE_LINK, esc, Args().add(fuse_link_in{f}).str("f"));
  EXPECT_NE(link.error, 0);
  EXPECT_EQ(c().call(FUSE_LINK, kRoot, Args().add(fuse_link_in{f}).str("../f")).error, EINVAL);
  EXPECT_EQ(c().call(FUSE_LINK, kRoot, Args().add(fuse_link_in{kRoot}).str("root2")).error, EPERM);
  EXPECT_EQ(c().call(FUSE_UNLINK, esc, Args().str("secret")).error, ENOTDIR);
  EXPECT_EQ(outside_entries(), std::vector<std::string>{"secret"});
}

TEST_F(FsSecurityTest, DeviceNodesAndFifosAreNeverOpenedOnTheHost) {
  uint64_t fifo = c().mknod(kRoot, "fifo", S_IFIFO | 0666);
  ASSERT_NE(fifo, 0u) << c().last_error;
  EXPECT_EQ(c().open(fifo, O_RDONLY), 0u);  // would block the server if opened
  EXPECT_EQ(c().last_error, EACCES);
  EXPECT_EQ(c().create(kRoot, "fifo").first, 0u);
  EXPECT_EQ(c().last_error, EACCES);
  uint64_t null = c().mknod(kRoot, "null", S_IFCHR | 0666, makedev(1, 3));
  ASSERT_NE(null, 0u) << c().last_error;
  EXPECT_EQ(c().open(null, O_RDWR), 0u);
  EXPECT_EQ(c().last_error, EACCES);
  EXPECT_EQ(c().mknod(kRoot, "dir", S_IFDIR | 0755), 0u);
  EXPECT_EQ(c().last_error, EINVAL);
}

TEST_F(FsSecurityTest, AShareOfSomeNamesReachesOnlyThoseAndNeverChangesItsDirectory) {
  ASSERT_EQ(::mkdir((dir / "shown").c_str(), 0755), 0);
  std::ofstream(dir / "shown/f") << "x";
  std::ofstream(dir / "hidden") << "secret";
  FsConfig cfg{dir.path(), CachePolicy::kCoherent, false, {"shown"}};
  cfg.handles = true;  // CREATE and OPENDIR below are answered, not ENOSYS
  auto r = PassthroughFs::create(cfg);
  ASSERT_TRUE(r.ok()) << r.error().message;
  FuseTestClient only(**r);
  only.init();
  EXPECT_EQ(only.lookup(kRoot, "hidden"), 0u);
  EXPECT_EQ(only.last_error, ENOENT);
  uint64_t shown = only.lookup(kRoot, "shown");
  ASSERT_NE(shown, 0u);
  EXPECT_NE(only.lookup(shown, "f"), 0u);  // below a visible name: all of it
  EXPECT_NE(only.mkdir(shown, "d"), 0u);
  // The shared directory itself is not the guest's to change.
  EXPECT_EQ(only.mkdir(kRoot, "new"), 0u);
  EXPECT_EQ(only.last_error, EACCES);
  EXPECT_EQ(only.create(kRoot, "hidden", 0644, O_RDWR | O_TRUNC).first, 0u);
  EXPECT_EQ(only.last_error, EACCES);
  EXPECT_EQ(only.call(FUSE_RMDIR, kRoot, Args().str("shown")).error, EACCES);
  EXPECT_EQ(only.call(FUSE_UNLINK, kRoot, Args().str("hidden")).error, EACCES);
  fuse_rename2_in out{kRoot, 0, 0};
  EXPECT_EQ(only.call(FUSE_RENAME2, shown, Args().add(out).str("f").str("hidden")).error, EACCES);
  fuse_setattr_in mode{};
  mode.valid = FATTR_MODE;
  mode.mode = S_IFDIR | 0777;
  EXPECT_EQ(only.call(FUSE_SETATTR, kRoot, Args().add(mode)).error, EACCES);
  std::string hidden;
  std::getline(std::ifstream(dir / "hidden"), hidden);
  EXPECT_EQ(hidden, "secret");
  EXPECT_TRUE(std::filesystem::exists(dir / "shown/f"));
  // A listing of the directory names only what is visible.
  uint64_t fh = only.open(kRoot, O_RDONLY, FUSE_OPENDIR);
  ASSERT_NE(fh, 0u);
  fuse_read_in in{};
  in.fh = fh;
  in.size = 4096;
  auto list = only.call(FUSE_READDIR, kRoot, Args().add(in), 4096 + 16);
  ASSERT_EQ(list.error, 0);
  std::set<std::string> names;
  for (size_t pos = 0; pos + sizeof(fuse_dirent) <= list.data.size();) {
    fuse_dirent d;
    std::memcpy(&d, list.data.data() + pos, sizeof d);
    names.insert(
        std::string(reinterpret_cast<const char*>(list.data.data() + pos + sizeof d), d.namelen));
    pos += (sizeof d + d.namelen + 7) & ~size_t{7};
  }
  EXPECT_EQ(names, (std::set<std::string>{".", "..", "shown"}));
}

TEST_F(FsSecurityTest, StaleNodeidsAndHandlesMiss) {
  EXPECT_EQ(c().lookup(99999, "x"), 0u);
  EXPECT_EQ(c().last_error, EBADF);
  EXPECT_FALSE(c().getattr(0).has_value());
  EXPECT_EQ(c().read(12345, 0, 10).error, EBADF);
  EXPECT_EQ(c().write(12345, 0, {'x'}), EBADF);
}

TEST_F(FsSecurityTest, CreatedFilesBelongToTheCaller) {
  RUNVM_REQUIRE_ROOT("file owners");
  c().uid = 1000;
  c().gid = 1001;
  // The share root is root's and mode 0700: the guest already checked
  // permissions, we only set ownership.
  uint64_t d = c().mkdir(kRoot, "d", 0700);
  ASSERT_NE(d, 0u) << c().last_error;
  auto [f, fh] = c().create(d, "f", 0600);
  ASSERT_NE(f, 0u) << c().last_error;
  ASSERT_NE(c().symlink(d, "l", "f"), 0u);
  ASSERT_NE(c().mknod(d, "p", S_IFIFO | 0600), 0u);
  for (auto p : {"d", "d/f", "d/l", "d/p"}) {
    struct stat st;
    ASSERT_EQ(::lstat((dir / p).c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, 1000u) << p;
    EXPECT_EQ(st.st_gid, 1001u) << p;
  }
  // Only this thread's fs ids changed, and only for the call.
  EXPECT_EQ(::setfsuid(-1), 0);
  std::ofstream(dir / "mine") << 1;
  struct stat st;
  ASSERT_EQ(::stat((dir / "mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  c().uid = static_cast<uint32_t>(-1);
  EXPECT_EQ(c().mkdir(kRoot, "bad"), 0u);
  EXPECT_EQ(c().last_error, EINVAL);
}

TEST_F(FsSecurityTest, ModesAreExactDespiteHostUmaskAndSetgidDirsApply) {
  RUNVM_REQUIRE_ROOT("file owners");
  mode_t old = ::umask(027);
  make();  // reads the host umask
  c().uid = 1000;
  c().gid = 1000;
  uint64_t d = c().mkdir(kRoot, "d", 0777);
  auto [f, fh] = c().create(kRoot, "f", 0666);
  uint64_t p = c().mknod(kRoot, "p", S_IFIFO | 0662);
  ::umask(old);
  ASSERT_TRUE(d && f && p);
  struct stat st;
  ASSERT_EQ(::stat((dir / "d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0777u);
  ASSERT_EQ(::stat((dir / "f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  ASSERT_EQ(::stat((dir / "p").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0662u);
  EXPECT_EQ(c().getattr(f)->mode & 07777, 0666u);

  ASSERT_EQ(::chown((dir / "d").c_str(), 0, 500), 0);
  ASSERT_EQ(::chmod((dir / "d").c_str(), 02777), 0);
  uint64_t sub = c().mkdir(d, "sub", 0755);
  ASSERT_NE(sub, 0u);
  ASSERT_EQ(::stat((dir / "d/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 500u);  // inherited from the set-gid parent
  EXPECT_TRUE(st.st_mode & S_ISGID);
  EXPECT_EQ(st.st_uid, 1000u);
}

// FUSE_HANDLE_KILLPRIV_V2: the guest stops clearing set-id bits itself (and
// stops asking for security.capability before each write); we must do it
// whenever it says the caller lacks CAP_FSETID, before the data changes.
TEST_F(FsSecurityTest, SetIdBitsAreKilledWhenTheGuestAsks) {
  RUNVM_REQUIRE_ROOT("writes without killing set-id bits need CAP_FSETID");
  auto [f, fh] = c().create(kRoot, "f", 0755);
  ASSERT_NE(f, 0u);
  const std::string path = dir / "f";
  auto mode = [&] {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 07777;
  };
  ASSERT_EQ(::chmod(path.c_str(), 06755), 0);
  EXPECT_EQ(c().write(fh, 0, {'a'}), 0);  // a caller with CAP_FSETID: bits stay
  EXPECT_EQ(mode(), 06755u);
  EXPECT_EQ(c().write(fh, 1, {'b'}, nullptr, FUSE_WRITE_KILL_SUIDGID), 0);
  EXPECT_EQ(mode(), 0755u);
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "ab");

  // Set-group-ID without group execute is not a privilege: it stays.
  ASSERT_EQ(::chmod(path.c_str(), 06745), 0);
  EXPECT_EQ(c().write(fh, 0, {'c'}, nullptr, FUSE_WRITE_KILL_SUIDGID), 0);
  EXPECT_EQ(mode(), 02745u);

  // Truncate.
  ASSERT_EQ(::chmod(path.c_str(), 06755), 0);
  fuse_setattr_in trunc{};
  trunc.valid = FATTR_SIZE | FATTR_KILL_SUIDGID;
  trunc.size = 1;
  EXPECT_EQ(c().call(FUSE_SETATTR, f, Args().add(trunc)).error, 0);
  EXPECT_EQ(mode(), 0755u);
  // An explicit mode in the same request is what the file gets.
  trunc.valid = FATTR_SIZE | FATTR_MODE | FATTR_KILL_SUIDGID;
  trunc.mode = 04711;
  EXPECT_EQ(c().call(FUSE_SETATTR, f, Args().add(trunc)).error, 0);
  EXPECT_EQ(mode(), 04711u);

  // Open with O_TRUNC, and create of an existing file with O_TRUNC.
  ASSERT_EQ(::chmod(path.c_str(), 06755), 0);
  EXPECT_NE(c().open(f, O_WRONLY | O_TRUNC, FUSE_OPEN, FUSE_OPEN_KILL_SUIDGID), 0u);
  EXPECT_EQ(mode(), 0755u);
  ASSERT_EQ(::chmod(path.c_str(), 06755), 0);
  EXPECT_NE(c().open(f, O_WRONLY, FUSE_OPEN, FUSE_OPEN_KILL_SUIDGID), 0u);  // no O_TRUNC
  EXPECT_EQ(mode(), 06755u);
  fuse_create_in cin{O_WRONLY | O_TRUNC, 0644, 022, FUSE_OPEN_KILL_SUIDGID};
  EXPECT_EQ(c().call(FUSE_CREATE, kRoot, Args().add(cin).str("f")).error, 0);
  EXPECT_EQ(mode(), 0755u);
}

TEST_F(FsSecurityTest, InitTakesOverKillingPrivileges) {
  EXPECT_TRUE(c().init().flags & FUSE_HANDLE_KILLPRIV_V2);
}

}  // namespace
}  // namespace runvm
