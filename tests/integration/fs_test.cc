// virtio-fs end to end: a busybox guest (its own tiny initramfs) mounts a
// host directory served by our in-process vhost-user-fs backend, works on it
// as root and as an unprivileged user, and powers off; the host then checks
// what landed in the directory and what the guest printed.
#include <archive.h>
#include <archive_entry.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "shim/engine/engine.h"
#include "shim/fs/fs_device.h"
#include "shim/vhost_user/server.h"
#include "spec/base/event_loop.h"
#include "spec/base/state_layout.h"
#include "tests/integration/vm_fixture.h"
#include "tests/support/require.h"

namespace runvm {
namespace {

using testing::TempDir;

constexpr char kTag[] = "share";
constexpr int kSeqCount = 200000;

// A guest's script, run_guest wraps it: busybox applets, /proc and the
// share on /mnt first; FS-TEST-DONE and a reboot last (QEMU runs with
// -no-reboot, so that ends the VM).
constexpr char kGuestSetUp[] = R"SH(#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev 2>/dev/null
exec >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
if ! mount -t virtiofs share /mnt; then echo FS-MOUNT-FAILED; reboot -f; fi
)SH";
constexpr char kGuestEnd[] = "echo FS-TEST-DONE\nreboot -f\n";

// The workload.
constexpr char kInit[] = R"SH(
echo "host says: $(cat /mnt/hostfile)"
echo "guest data" > /mnt/g.txt
mkdir /mnt/dir
echo nested > /mnt/dir/n.txt
seq 1 200000 > /mnt/seq.txt
chmod 0600 /mnt/g.txt
chown 1234:5678 /mnt/dir/n.txt
ln -s g.txt /mnt/link
mv /mnt/dir/n.txt /mnt/dir/moved.txt
touch /mnt/gone && rm /mnt/gone
mkdir /mnt/userdir && chown 1000:1000 /mnt/userdir
su user -c 'echo u > /mnt/userdir/u.txt; mkdir /mnt/userdir/ud; echo denied > /mnt/rootonly 2>/dev/null || echo USER-DENIED'
for f in suid trunc root; do echo x > /mnt/userdir/$f; done
chown 1000:1000 /mnt/userdir/suid /mnt/userdir/trunc
chmod 06775 /mnt/userdir/suid /mnt/userdir/trunc /mnt/userdir/root
su user -c 'echo more >> /mnt/userdir/suid; : > /mnt/userdir/trunc'
echo more >> /mnt/userdir/root
sync
echo 3 > /proc/sys/vm/drop_caches
seq 1 200000 | cmp - /mnt/seq.txt && echo SEQ-OK
[ "$(readlink /mnt/link)" = g.txt ] && echo LINK-OK
ls -ln /mnt /mnt/dir /mnt/userdir
umount /mnt && echo FS-UMOUNT-OK
)SH";

struct ArchiveFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

using testing::read_file;

// A newc cpio with busybox as /bin/busybox and `init` as /init.
void write_initramfs(const std::string& path, const std::string& init) {
  std::unique_ptr<archive, ArchiveFree> a(archive_write_new());
  ASSERT_EQ(archive_write_set_format_cpio_newc(a.get()), ARCHIVE_OK);
  ASSERT_EQ(archive_write_add_filter_none(a.get()), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open_filename(a.get(), path.c_str()), ARCHIVE_OK);
  auto add = [&](const char* name, mode_t type, mode_t perm, const std::string& data,
                 dev_t rdev = 0) {
    std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name);
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), perm);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    archive_entry_set_rdev(e.get(), rdev);
    ASSERT_EQ(archive_write_header(a.get(), e.get()), ARCHIVE_OK) << archive_error_string(a.get());
    if (!data.empty()) {
      ASSERT_EQ(archive_write_data(a.get(), data.data(), data.size()),
                static_cast<la_ssize_t>(data.size()));
    }
  };
  for (const char* d : {"bin", "dev", "etc", "proc", "mnt", "tmp"}) add(d, AE_IFDIR, 0755, "");
  add("etc/passwd", AE_IFREG, 0644, "root:x:0:0::/:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n");
  add("etc/group", AE_IFREG, 0644, "root:x:0:\nuser:x:1000:\n");
  add("dev/console", AE_IFCHR, 0600, "", makedev(5, 1));
  add("bin/busybox", AE_IFREG, 0755, read_file("/bin/busybox"));
  add("init", AE_IFREG, 0755, init);
  ASSERT_EQ(archive_write_close(a.get()), ARCHIVE_OK);
}

// The device loop on its own thread, stopped and joined on scope exit.
struct LoopThread {
  EventLoop& loop;
  std::thread thread;
  explicit LoopThread(EventLoop& l) : loop(l), thread([this] { (void)loop.run(); }) {}
  ~LoopThread() {
    loop.stop();
    thread.join();
  }
};

// Boots a guest with `workload` (kGuestSetUp before it, kGuestEnd after)
// against `share` served by our backend as `cfg` says, until it powers off; `watch` sees the
// console log while it runs (every 100 ms). Returns the console log; `dev` keeps the device for its
// stats.
std::string run_guest(const TempDir& state, const char* workload, const FsConfig& cfg,
                      std::unique_ptr<FsDevice>& dev,
                      const std::function<void(const std::string&)>& watch = {}) {
  const std::string initrd = state.path() + "/fs-initramfs.cpio";
  write_initramfs(initrd, std::string(kGuestSetUp) + workload + kGuestEnd);
  if (::testing::Test::HasFatalFailure()) return "";
  auto loop = EventLoop::create();
  EXPECT_TRUE(loop.ok());
  if (!loop.ok()) return "";
  auto d = FsDevice::create(**loop, cfg);
  EXPECT_TRUE(d.ok()) << d.error().message;
  if (!d.ok()) return "";
  dev = std::move(*d);
  const std::string sock = state.path() + "/fs.sock";
  auto server = vhost_user::VhostUserServer::listen(**loop, sock, *dev);
  EXPECT_TRUE(server.ok()) << server.error().message;
  if (!server.ok()) return "";
  LoopThread loop_thread(**loop);

  VmConfig vm;
  vm.machine.kernel = testing::vm_assets().kernel;
  vm.machine.initrd = initrd;
  vm.machine.memory_mib = 256;
  vm.console_log = state.path() + "/" + layout::kConsoleLog;
  vm.engine_log = state.path() + "/" + layout::kEngineLog;
  vm.devices.push_back({VhostUserDevice::kFs, sock, 0, kTag});
  auto engine = make_qemu_engine();
  EXPECT_TRUE(engine.ok());
  if (!engine.ok()) return "";
  auto started = (*engine)->start(vm);
  EXPECT_TRUE(started.ok()) << started.error().message << "\n" << read_file(vm.engine_log);
  if (!started.ok()) return "";

  // The guest reboots (and so QEMU exits) at the end of its script.
  pollfd p{(*engine)->pidfd(), POLLIN, 0};
  bool finished = false;
  for (int waited = 0; waited < 180000 && !finished; waited += 100) {
    finished = poll(&p, 1, 100) > 0;
    if (watch) watch(read_file(vm.console_log));
  }
  if (!finished) {
    ADD_FAILURE() << "guest did not finish; console:\n" << read_file(vm.console_log);
    (void)(*engine)->stop();
  }
  EXPECT_TRUE((*engine)->wait().ok());
  return read_file(vm.console_log);
}

TEST(VirtioFs, GuestWorkloadLandsOnTheHostWithExactOwnersAndModes) {
  RUNVM_REQUIRE_VM_ASSETS();
  RUNVM_REQUIRE(access("/bin/busybox", X_OK) == 0, "/bin/busybox (apt-get install busybox-static)");
  TempDir state, share;
  ASSERT_FALSE(state.path().empty() || share.path().empty());
  ASSERT_EQ(chmod(share.path().c_str(), 0755), 0);
  std::ofstream(share.path() + "/hostfile") << "hello from host";
  std::unique_ptr<FsDevice> dev;
  const std::string console =
      run_guest(state, kInit, {share.path(), CachePolicy::kExclusive, false}, dev);
  ASSERT_NE(console.find("FS-TEST-DONE"), std::string::npos) << console;
  EXPECT_EQ(console.find("FS-MOUNT-FAILED"), std::string::npos) << console;
  EXPECT_NE(console.find("host says: hello from host"), std::string::npos) << console;
  EXPECT_NE(console.find("SEQ-OK"), std::string::npos) << console;
  EXPECT_NE(console.find("LINK-OK"), std::string::npos) << console;
  EXPECT_NE(console.find("USER-DENIED"), std::string::npos) << console;
  EXPECT_NE(console.find("FS-UMOUNT-OK"), std::string::npos) << console;

  const std::string& d = share.path();
  struct stat st;
  ASSERT_EQ(lstat((d + "/g.txt").c_str(), &st), 0);
  EXPECT_EQ(read_file(d + "/g.txt"), "guest data\n");
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);

  ASSERT_EQ(lstat((d + "/dir/moved.txt").c_str(), &st), 0);
  EXPECT_EQ(read_file(d + "/dir/moved.txt"), "nested\n");
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_NE(lstat((d + "/dir/n.txt").c_str(), &st), 0);
  EXPECT_NE(lstat((d + "/gone").c_str(), &st), 0);
  EXPECT_NE(lstat((d + "/rootonly").c_str(), &st), 0);

  ASSERT_EQ(lstat((d + "/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  char target[64] = {};
  EXPECT_EQ(readlink((d + "/link").c_str(), target, sizeof target - 1), 5);
  EXPECT_STREQ(target, "g.txt");

  for (const char* p : {"/userdir/u.txt", "/userdir/ud"}) {
    ASSERT_EQ(lstat((d + p).c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, 1000u) << p;
    EXPECT_EQ(st.st_gid, 1000u) << p;
  }
  ASSERT_EQ(lstat((d + "/userdir/u.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);  // the guest's umask 022, applied once
  ASSERT_EQ(lstat((d + "/userdir/ud").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  // A write or truncate by a caller without CAP_FSETID drops set-id bits (the
  // guest leaves that to us: FUSE_HANDLE_KILLPRIV_V2); root's write keeps them.
  ASSERT_EQ(lstat((d + "/userdir/suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0775u);
  EXPECT_EQ(read_file(d + "/userdir/suid"), "x\nmore\n");
  ASSERT_EQ(lstat((d + "/userdir/trunc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0775u);
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(lstat((d + "/userdir/root").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 06775u);

  std::ostringstream seq;
  for (int i = 1; i <= kSeqCount; ++i) seq << i << '\n';
  EXPECT_EQ(read_file(d + "/seq.txt"), seq.str());
  EXPECT_EQ(read_file(d + "/hostfile"), "hello from host");

  // An exclusive share has no open-file handles (FsConfig::handles): one
  // OPEN, OPENDIR and CREATE each at most, answered ENOSYS, after which the
  // guest opens files and directories without asking, creates by MKNOD and
  // never releases a file or directory.
  std::map<uint32_t, fuse::Stats::Entry> by_op;
  for (const auto& e : dev->stats().snapshot()) by_op[e.opcode] = e;
  for (uint32_t op : {FUSE_OPEN, FUSE_OPENDIR, FUSE_CREATE}) {
    EXPECT_LE(by_op[op].count, 1u) << fuse::opcode_name(op);
    EXPECT_EQ(by_op[op].errors, by_op[op].count) << fuse::opcode_name(op);
  }
  EXPECT_EQ(by_op[FUSE_RELEASE].count, 0u);
  EXPECT_EQ(by_op[FUSE_RELEASEDIR].count, 0u);
  EXPECT_GE(by_op[FUSE_MKNOD].count, 8u);  // the 8 files the script creates
  EXPECT_GT(by_op[FUSE_READ].count, 0u);
}

// The files f1..f`n` a guest wrote ("data<i>\n", then `more`) and chowned
// to uid 1000 in `share`.
void expect_written_and_chowned(const TempDir& share, int n, const std::string& more) {
  for (int i = 1; i <= n; ++i) {
    const std::string f = share.path() + "/f" + std::to_string(i);
    EXPECT_EQ(read_file(f), "data" + std::to_string(i) + "\n" + more) << f;
    struct stat st;
    ASSERT_EQ(lstat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_uid, 1000u) << f;
  }
}

// A bind mount's share (coherent, no xattrs): files written and chowned as
// npm does cost no GETXATTR security.capability each, a miss is cached, and
// a name the host creates after the guest missed it shows up once the
// negative entry's second is over. Served without open-file handles, the
// guest keeps a file's pages across opens: content the host rewrites (same
// size, only its mtime tells) still shows up once the attributes' second
// is over (FUSE_AUTO_INVAL_DATA).
constexpr char kBindInit[] = R"SH(
for i in $(seq 1 40); do
  [ -e /mnt/f$i ] || echo data$i > /mnt/f$i
  echo more >> /mnt/f$i
  chown 1000:1000 /mnt/f$i
done
[ -e /mnt/late ] || echo LATE-MISSED
i=0
while [ ! -e /mnt/late ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /mnt/late ] && echo "LATE-SEEN $i"
[ "$(cat /mnt/late)" = x ] && echo LATE-READ
i=0
while [ "$(cat /mnt/late)" = x ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(cat /mnt/late)" = y ] && echo "CHANGE-SEEN $i"
sync
)SH";

TEST(VirtioFs, ABindMountShareCachesMissesBrieflyAndAsksNoXattrs) {
  RUNVM_REQUIRE_VM_ASSETS();
  RUNVM_REQUIRE(access("/bin/busybox", X_OK) == 0, "/bin/busybox (apt-get install busybox-static)");
  TempDir state, share;
  ASSERT_FALSE(state.path().empty() || share.path().empty());
  FsConfig cfg{share.path(), CachePolicy::kCoherent, false};
  cfg.xattrs = false;  // as plan_mounts makes bind shares
  std::unique_ptr<FsDevice> dev;
  bool created = false, rewritten = false;
  const std::string console = run_guest(state, kBindInit, cfg, dev, [&](const std::string& log) {
    // The host adds the name the guest just missed, as a user's editor would,
    // then rewrites it once the guest has read (and cached) it.
    if (!created && log.find("LATE-MISSED") != std::string::npos)
      created = static_cast<bool>(std::ofstream(share.path() + "/late") << "x");
    if (!rewritten && log.find("LATE-READ") != std::string::npos)
      rewritten = static_cast<bool>(std::ofstream(share.path() + "/late") << "y");
  });
  ASSERT_NE(console.find("FS-TEST-DONE"), std::string::npos) << console;
  EXPECT_TRUE(created) << console;
  EXPECT_NE(console.find("LATE-SEEN"), std::string::npos) << console;
  EXPECT_TRUE(rewritten) << console;
  EXPECT_NE(console.find("CHANGE-SEEN"), std::string::npos) << console;
  expect_written_and_chowned(share, 40, "more\n");
  std::map<uint32_t, fuse::Stats::Entry> by_op;
  for (const auto& e : dev->stats().snapshot()) by_op[e.opcode] = e;
  // One GETXATTR at most (answered ENOSYS, then the guest stops asking) for
  // 40 files written and chowned; none reaches the host.
  EXPECT_LE(by_op[FUSE_GETXATTR].count, 1u);
  // Each missing file name was looked up once, its miss cached: `[ -e ]` and
  // the shell's open for writing share one LOOKUP, and no miss is an error.
  EXPECT_EQ(by_op[FUSE_LOOKUP].errors, 0u);
  EXPECT_LE(by_op[FUSE_LOOKUP].count, 40u + 15u);
  // No handles: one OPEN at most (answered ENOSYS, then the guest stops
  // asking), no CREATE that succeeded, no RELEASE for 40 files' closes.
  EXPECT_LE(by_op[FUSE_OPEN].count, 1u);
  EXPECT_EQ(by_op[FUSE_RELEASE].count, 0u);
  EXPECT_GE(by_op[FUSE_MKNOD].count, 40u);
}

// A container root serves xattrs only if its tree holds any
// (FsConfig::xattrs_if_present): a file capability of the image is honoured
// when the guest execs the file, and a tree without xattrs costs no GETXATTR
// security.capability per file written and chowned.
constexpr char kCapInit[] = R"SH(
[ -x /mnt/capbin/busybox ] && su user -c '/mnt/capbin/busybox grep CapEff /proc/self/status' | sed 's/^/FILE-/'
su user -c 'grep CapEff /proc/self/status' | sed 's/^/PLAIN-/'
for i in $(seq 1 20); do
  echo data$i > /mnt/f$i
  chown 1000:1000 /mnt/f$i
done
sync
)SH";

TEST(VirtioFs, ARootServesXattrsOnlyIfItsTreeHoldsAnyAndFileCapabilitiesWork) {
  RUNVM_REQUIRE_VM_ASSETS();
  RUNVM_REQUIRE(access("/bin/busybox", X_OK) == 0, "/bin/busybox (apt-get install busybox-static)");
  for (bool with_cap : {true, false}) {
    SCOPED_TRACE(with_cap ? "an image with a file capability" : "an image without xattrs");
    TempDir state, share;
    ASSERT_FALSE(state.path().empty() || share.path().empty());
    ASSERT_EQ(chmod(share.path().c_str(), 0755), 0);
    if (with_cap) {
      // A copy of busybox with cap_net_raw+ep, as Debian's ping ships.
      ASSERT_EQ(mkdir((share.path() + "/capbin").c_str(), 0755), 0);
      const std::string bin = share.path() + "/capbin/busybox";
      std::ofstream(bin, std::ios::binary) << read_file("/bin/busybox");
      ASSERT_EQ(chmod(bin.c_str(), 0755), 0);
      vfs_cap_data cap{};
      cap.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
      cap.data[0].permitted = 1u << CAP_NET_RAW;
      RUNVM_REQUIRE(setxattr(bin.c_str(), "security.capability", &cap, sizeof cap, 0) == 0,
                    "CAP_SETFCAP (run as root)");
    }
    FsConfig cfg{share.path(), CachePolicy::kExclusive, false};
    cfg.xattrs_if_present = true;  // as a container's root (ContainerShim::prepare)
    std::unique_ptr<FsDevice> dev;
    const std::string console = run_guest(state, kCapInit, cfg, dev);
    ASSERT_NE(console.find("FS-TEST-DONE"), std::string::npos) << console;
    ASSERT_NE(dev->fs()->xattr_scan(), nullptr);
    EXPECT_NE(console.find("PLAIN-CapEff:\t0000000000000000"), std::string::npos) << console;
    std::map<uint32_t, fuse::Stats::Entry> by_op;
    for (const auto& e : dev->stats().snapshot()) by_op[e.opcode] = e;
    if (with_cap) {
      // The file's capability, read by the guest's exec (GETXATTR), is in
      // effect for the unprivileged user running it.
      EXPECT_NE(console.find("FILE-CapEff:\t0000000000002000"), std::string::npos) << console;
      EXPECT_EQ(dev->fs()->xattr_scan()->state(), fuse::XattrScan::State::kPresent);
      // Xattrs stay served: the guest asks before each first write and chown.
      EXPECT_GE(dev->stats().capability_queries(), 20u);
    } else {
      EXPECT_EQ(dev->fs()->xattr_scan()->state(), fuse::XattrScan::State::kOff);
      // One GETXATTR (answered ENOSYS) for 20 files written and chowned.
      EXPECT_EQ(by_op[FUSE_GETXATTR].count, 1u);
      EXPECT_EQ(by_op[FUSE_GETXATTR].errors, 1u);
    }
    expect_written_and_chowned(share, 20, "");
  }
}

}  // namespace
}  // namespace runvm
