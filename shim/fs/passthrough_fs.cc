#include "shim/fs/passthrough_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>

namespace runvm {

namespace {

constexpr uint64_t kExclusiveTimeout = 24 * 3600;  // s: nothing else changes the tree
constexpr uint64_t kCoherentTimeout = 1;           // s: the host may change it any time

// The process umask, which (unlike umask(2)) can be read without changing it.
mode_t read_host_umask() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Umask:", 0) == 0)
      return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
  return 0;
}

}  // namespace

Result<std::unique_ptr<PassthroughFs>> PassthroughFs::create(FsConfig cfg) {
  UniqueFd root(cfg.dir_fd ? ::fcntl(cfg.dir_fd->get(), F_DUPFD_CLOEXEC, 0)
                           : ::open(cfg.shared_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return errno_error("virtio-fs: open shared dir " + cfg.shared_dir);
  struct stat st;
  if (::fstat(root.get(), &st) != 0) return errno_error("virtio-fs: stat " + cfg.shared_dir);
  if (!S_ISDIR(st.st_mode)) return make_error("virtio-fs: " + cfg.shared_dir + ": not a directory");
  UniqueFd proc(::open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!proc) return errno_error("virtio-fs: open /proc/self/fd");
  return std::unique_ptr<PassthroughFs>(
      new PassthroughFs(std::move(cfg), std::move(root), st, std::move(proc)));
}

PassthroughFs::PassthroughFs(FsConfig cfg, UniqueFd root, const struct stat& st, UniqueFd proc_fd)
    : FuseServer(kMaxPages),
      cfg_(std::move(cfg)),
      proc_fd_(std::move(proc_fd)),
      inodes_(std::move(root), st),
      host_umask_(read_host_umask()) {
  readonly_.store(cfg_.readonly);
  // From now, while the VM boots: the guest's first xattr request comes
  // with its first exec.
  if (cfg_.xattrs && cfg_.xattrs_if_present)
    xattr_scan_ = std::make_unique<fuse::XattrScan>(inodes_.root().fd.get(), cfg_.thread_start);
  if (cfg_.precreate && !cfg_.readonly)
    stock_ = std::make_unique<fuse::TmpfileStock>(cfg_.thread_start);
}

bool PassthroughFs::read_only_request(uint32_t opcode) const {
  switch (opcode) {
    case FUSE_SETATTR:
    case FUSE_SYMLINK:
    case FUSE_MKNOD:
    case FUSE_MKDIR:
    case FUSE_UNLINK:
    case FUSE_RMDIR:
    case FUSE_RENAME:
    case FUSE_RENAME2:
    case FUSE_LINK:
    case FUSE_WRITE:
    case FUSE_SETXATTR:
    case FUSE_REMOVEXATTR:
    case FUSE_CREATE:
    case FUSE_FALLOCATE:
    case FUSE_COPY_FILE_RANGE:
      return false;
    default:
      return true;
  }
}

bool PassthroughFs::is_xattr_request(uint32_t opcode) {
  return opcode == FUSE_SETXATTR || opcode == FUSE_GETXATTR || opcode == FUSE_LISTXATTR ||
         opcode == FUSE_REMOVEXATTR;
}

bool PassthroughFs::xattrs_off(uint32_t opcode) {
  if (!cfg_.xattrs) return true;
  if (!xattr_scan_) return false;
  return xattr_scan_->answer_enosys(opcode == FUSE_SETXATTR || opcode == FUSE_REMOVEXATTR);
}

bool PassthroughFs::hidden(const Inode& dir, std::string_view name) const {
  if (cfg_.visible.empty() || dir.nodeid != FUSE_ROOT_ID) return false;
  for (const auto& v : cfg_.visible)
    if (v == name) return false;
  return true;
}

uint32_t PassthroughFs::dispatch(const Request& req, Reply& rw) {
  const uint32_t op = req.in.opcode;
  if (op == FUSE_INIT) return op_init(req, rw);
  if (!initialized_) return op == FUSE_FORGET || op == FUSE_BATCH_FORGET ? 0 : rw.error(EIO);
  // Before EROFS/EACCES, which the guest would keep asking again.
  if (is_xattr_request(op) && xattrs_off(op)) return rw.error(ENOSYS);
  if (xattr_scan_ && (op == FUSE_RENAME || op == FUSE_RENAME2 || op == FUSE_LINK))
    xattr_scan_->tree_moved();
  if (readonly() && !read_only_request(op)) return rw.error(EROFS);
  // A directory shared for some of its names is not the guest's to change
  // (a rename into it is refused in op_rename).
  if (!cfg_.visible.empty() && req.in.nodeid == FUSE_ROOT_ID && !read_only_request(op))
    return rw.error(EACCES);
  switch (op) {
    case FUSE_DESTROY:
      return op_destroy(rw);
    case FUSE_FORGET:
      op_forget(req);
      return 0;
    case FUSE_BATCH_FORGET:
      op_batch_forget(req);
      return 0;
    case FUSE_INTERRUPT:
      return 0;  // requests complete synchronously: nothing to interrupt
    case FUSE_LOOKUP:
      return op_lookup(req, rw);
    case FUSE_GETATTR:
      return op_getattr(req, rw);
    case FUSE_SETATTR:
      return op_setattr(req, rw);
    case FUSE_READLINK:
      return op_readlink(req, rw);
    case FUSE_SYMLINK:
      return op_symlink(req, rw);
    case FUSE_MKNOD:
      return op_mknod(req, rw);
    case FUSE_MKDIR:
      return op_mkdir(req, rw);
    case FUSE_UNLINK:
      return op_unlink(req, rw, false);
    case FUSE_RMDIR:
      return op_unlink(req, rw, true);
    case FUSE_RENAME:
      return op_rename(req, rw, false);
    case FUSE_RENAME2:
      return op_rename(req, rw, true);
    case FUSE_LINK:
      return op_link(req, rw);
    case FUSE_OPEN:
      return op_open(req, rw);
    case FUSE_READ:
      return op_read(req, rw);
    case FUSE_WRITE:
      return op_write(req, rw);
    case FUSE_STATFS:
      return op_statfs(req, rw);
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
      return op_release(req, rw);
    case FUSE_FSYNC:
    case FUSE_FSYNCDIR:
      return op_fsync(req, rw);
    case FUSE_FLUSH:
      return op_flush(req, rw);
    case FUSE_SETXATTR:
      return op_setxattr(req, rw);
    case FUSE_GETXATTR:
      return op_getxattr(req, rw, false);
    case FUSE_LISTXATTR:
      return op_getxattr(req, rw, true);
    case FUSE_REMOVEXATTR:
      return op_removexattr(req, rw);
    case FUSE_OPENDIR:
      return op_opendir(req, rw);
    case FUSE_READDIR:
      return op_readdir(req, rw, false);
    case FUSE_READDIRPLUS:
      return op_readdir(req, rw, true);
    case FUSE_ACCESS:
      return op_access(req, rw);
    case FUSE_CREATE:
      return op_create(req, rw);
    case FUSE_FALLOCATE:
      return op_fallocate(req, rw);
    case FUSE_LSEEK:
      return op_lseek(req, rw);
    case FUSE_COPY_FILE_RANGE:
      return op_copy_file_range(req, rw);
    default:
      return rw.error(ENOSYS);
  }
}

uint32_t PassthroughFs::op_init(const Request& req, Reply& rw) {
  fuse_init_in in;
  if (int err = parse_init(req, in)) return rw.error(err);

  // A new session: whatever the previous driver held is gone.
  inodes_.clear();
  handles_.clear();
  listings_.clear();
  if (stock_) stock_->clear();
  recent_misses_ = {};  // parents named by the previous session's nodeids

  uint32_t want = FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS | FUSE_BIG_WRITES | FUSE_MAX_PAGES |
                  FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_ATOMIC_O_TRUNC |
                  // We kill set-id bits ourselves (kill_suidgid); the host kernel
                  // removes security.capability on our writes, truncates and
                  // chowns. In return the guest marks inodes S_NOSEC and stops
                  // asking GETXATTR security.capability before every write.
                  FUSE_HANDLE_KILLPRIV_V2;
  // A symlink's target never changes (a new target is a new inode, and the
  // O_PATH fd we hold for a node keeps its inode number from being reused):
  // the guest may cache it on every share, so resolving one path twice (a
  // PATH search, then execve) reads it once.
  want |= FUSE_CACHE_SYMLINKS;
  if (cfg_.cache == CachePolicy::kExclusive) {
    if (!readonly() && cfg_.writeback) want |= FUSE_WRITEBACK_CACHE;
  } else {
    want |= FUSE_AUTO_INVAL_DATA;
  }
  // Handle-less: no OPEN carries O_TRUNC to us any more, so the guest must
  // send its truncation as a SETATTR (with ATOMIC_O_TRUNC it would skip it).
  handleless_ = !cfg_.handles;
  if (handleless_) want &= ~FUSE_ATOMIC_O_TRUNC;
  fuse_init_out out{};
  out.major = FUSE_KERNEL_VERSION;
  out.minor = std::min<uint32_t>(in.minor, FUSE_KERNEL_MINOR_VERSION);
  out.max_readahead = in.max_readahead;
  out.flags = in.flags & want;
  out.max_background = 64;
  out.congestion_threshold = 48;
  out.max_pages = static_cast<uint16_t>(max_pages());
  out.max_write = max_pages() * kPageSize;
  out.time_gran = 1;
  writeback_ = out.flags & FUSE_WRITEBACK_CACHE;
  initialized_ = true;
  return rw.ok_struct(out);
}

uint32_t PassthroughFs::op_destroy(Reply& rw) {
  inodes_.clear();
  handles_.clear();
  listings_.clear();
  if (stock_) stock_->clear();
  initialized_ = false;
  return rw.ok();
}

void PassthroughFs::op_forget(const Request& req) {
  fuse::ArgReader a(req.args);
  fuse_forget_in in;
  if (a.read(in)) inodes_.forget(req.in.nodeid, in.nlookup);
}

void PassthroughFs::op_batch_forget(const Request& req) {
  fuse::ArgReader a(req.args);
  fuse_batch_forget_in in;
  if (!a.read(in)) return;
  fuse_forget_one one;
  for (uint32_t i = 0; i < in.count && a.read(one); ++i) inodes_.forget(one.nodeid, one.nlookup);
}

uint64_t PassthroughFs::entry_timeout() const {
  return cfg_.cache == CachePolicy::kExclusive ? kExclusiveTimeout : kCoherentTimeout;
}

fuse_entry_out PassthroughFs::entry_for(const Inode& inode, const struct stat& st) const {
  fuse_entry_out e{};
  e.nodeid = inode.nodeid;
  e.entry_valid = e.attr_valid = entry_timeout();
  e.attr = fuse::attr_from_stat(st);
  return e;
}

Result<struct stat> PassthroughFs::stat_inode(const Inode& inode) const {
  struct stat st;
  if (::fstatat(inode.fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
    return errno_error("fstatat");
  return st;
}

uint64_t PassthroughFs::now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

void PassthroughFs::count_lookup(const Inode& parent, std::string_view name, bool missed,
                                 const Seen& seen) {
  using L = fuse::Stats::Lookup;
  const uint64_t now = now_ns(), timeout_ns = entry_timeout() * 1'000'000'000ull;
  if (missed) {
    const size_t h = std::hash<std::string_view>{}(name);
    bool again = false;
    for (const Miss& m : recent_misses_)
      again = again ||
              (m.ns && m.parent == parent.nodeid && m.name_hash == h && now - m.ns < timeout_ns);
    recent_misses_[next_miss_++ % recent_misses_.size()] = {parent.nodeid, h, now};
    mutable_stats().record_lookup(again ? L::kMissAgain : L::kMiss);
    return;
  }
  mutable_stats().record_lookup(!seen.held                        ? L::kNew
                                : now - seen.last_ns < timeout_ns ? L::kHeldRecent
                                                                  : L::kHeldExpired);
}

Result<fuse_entry_out> PassthroughFs::lookup_entry(Inode& parent, std::string_view name,
                                                   Seen* seen) {
  std::string n(name);  // is_safe_name: one component, no '/', not "." or ".."
  UniqueFd fd(::openat(parent.fd.get(), n.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno_error("lookup");
  struct stat st;
  if (::fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
    return errno_error("lookup stat");
  Inode& inode = inodes_.intern(std::move(fd), st);
  if (seen) *seen = {inode.nlookup > 1, inode.entry_ns};
  inode.entry_ns = now_ns();
  return entry_for(inode, st);
}

std::string PassthroughFs::fd_name(int fd) { return std::to_string(fd); }

int PassthroughFs::kill_suidgid(int fd) const {
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return 0;
  // As the kernel's setattr_should_drop_suidgid: S_ISGID only with group execute
  // (without it, it marks mandatory locking, not privilege).
  mode_t kill = st.st_mode & S_ISUID;
  if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) kill |= S_ISGID;
  if (!kill) return 0;
  if (::fchmodat(proc_fd_.get(), fd_name(fd).c_str(), st.st_mode & 07777 & ~kill, 0) != 0)
    return errno;
  return 0;
}

Result<PassthroughFs::OpenFd> PassthroughFs::open_fd(uint64_t nodeid, uint64_t fh, int flags) {
  OpenFd out;
  if (by_handle(fh)) {
    out.fd = handles_.get(fh);
    if (out.fd < 0) return make_error("unknown handle", EBADF);
    return out;
  }
  Inode* inode = inodes_.get(nodeid);
  if (!inode) return make_error("unknown node", EBADF);
  out.owned = RUNVM_TRY(reopen(*inode, flags));
  out.fd = out.owned.get();
  return out;
}

Result<UniqueFd> PassthroughFs::reopen(const Inode& inode, int flags) const {
  flags |= O_CLOEXEC | O_NOCTTY;
  int fd = -1;
  if (inode.type == S_IFDIR) {
    fd = ::openat(inode.fd.get(), ".", flags | O_DIRECTORY);
  } else if (inode.type == S_IFREG) {
    // The magic link leads straight to this inode; it is not a symlink, so
    // nothing further is followed.
    fd = ::openat(proc_fd_.get(), fd_name(inode.fd.get()).c_str(), flags & ~O_NOFOLLOW);
  } else {
    // Devices, FIFOs, sockets and symlinks are opened by the guest kernel
    // itself, never by us on the host.
    return make_error("reopen: not a regular file or directory", EACCES);
  }
  if (fd < 0) return errno_error("reopen");
  return UniqueFd(fd);
}

void PassthroughFs::apply_exact_mode(const Inode& inode, mode_t mode) const {
  const mode_t lost = mode & 0777 & host_umask_;
  if (inode.type == S_IFLNK || !lost) return;
  auto st = stat_inode(inode);
  if (!st.ok()) return;
  // Only the permission bits the umask took come back; what the kernel
  // decided (e.g. S_ISGID inherited from the parent) stays.
  (void)::fchmodat(proc_fd_.get(), fd_name(inode.fd.get()).c_str(), (st->st_mode & 07777) | lost,
                   0);
}

int PassthroughFs::open_flags_for_host(uint32_t guest_flags) const {
  // Only flags with a meaning for an already-resolved file pass; O_DIRECT is
  // dropped (guest buffers need not meet the host's alignment).
  int f = static_cast<int>(guest_flags) &
          (O_ACCMODE | O_APPEND | O_TRUNC | O_NONBLOCK | O_SYNC | O_DSYNC | O_NOATIME);
  if (writeback_) {
    // The guest page cache reads around partial writes and appends itself.
    if ((f & O_ACCMODE) == O_WRONLY) f = (f & ~O_ACCMODE) | O_RDWR;
    f &= ~O_APPEND;
  }
  return f;
}

uint32_t PassthroughFs::open_reply_flags(uint32_t open_flags) const {
  uint32_t f = cfg_.cache == CachePolicy::kExclusive ? FOPEN_KEEP_CACHE : 0;
  // FLUSH is ENOSYS (op_flush), but the guest learns that only from the
  // first close() after an OPEN, a synchronous round trip on every share
  // (the container's /etc/passwd, its executable). A read-only descriptor
  // dirties nothing its close could write back; writable ones keep the
  // guest's write-back of mmap()ed pages at close (fuse_flush).
  if ((open_flags & O_ACCMODE) == O_RDONLY) f |= FOPEN_NOFLUSH;
  return f;
}

}  // namespace runvm
