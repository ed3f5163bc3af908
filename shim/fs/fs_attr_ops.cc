// Attributes, symlink targets, statfs, access checks and extended attributes.
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "shim/fs/passthrough_fs.h"

namespace runvm {

using fuse::ArgReader;

namespace {

// Xattr calls take paths only: the magic link names our O_PATH fd's inode
// itself (for a symlink, the link, which is not followed further).
std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

uint32_t PassthroughFs::reply_attr(const Inode& inode, Reply& rw) {
  auto st = stat_inode(inode);
  if (!st.ok()) return rw.error(st.error().code);
  fuse_attr_out out{};
  out.attr_valid = entry_timeout();
  out.attr = fuse::attr_from_stat(*st);
  return rw.ok_struct(out);
}

uint32_t PassthroughFs::op_getattr(const Request& req, Reply& rw) {
  Inode* inode = node(req);
  if (!inode) return rw.error(EBADF);
  ArgReader a(req.args);
  fuse_getattr_in in{};
  (void)a.read(in);  // optional: older kernels sent none
  return reply_attr(*inode, rw);
}

uint32_t PassthroughFs::op_setattr(const Request& req, Reply& rw) {
  Inode* inode = node(req);
  ArgReader a(req.args);
  fuse_setattr_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  if (!inode) return rw.error(EBADF);
  // Handle-less, fh 0 (an ftruncate) is served through the node like a
  // truncate(2).
  const bool with_fh = (in.valid & FATTR_FH) && by_handle(in.fh);
  const int fh = with_fh ? handles_.get(in.fh) : -1;
  if (with_fh && fh < 0) return rw.error(EBADF);
  const std::string name = fd_name(inode->fd.get());

  // Owner before mode: chown clears set-id bits, an explicit mode is final.
  if (in.valid & (FATTR_UID | FATTR_GID)) {
    uid_t uid = (in.valid & FATTR_UID) ? in.uid : static_cast<uid_t>(-1);
    gid_t gid = (in.valid & FATTR_GID) ? in.gid : static_cast<gid_t>(-1);
    if (::fchownat(inode->fd.get(), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
      return rw.error(errno);
  }
  if (in.valid & FATTR_MODE) {
    if (inode->type == S_IFLNK) return rw.error(EOPNOTSUPP);
    int r = fh >= 0 ? ::fchmod(fh, in.mode & 07777)
                    : ::fchmodat(proc_fd_.get(), name.c_str(), in.mode & 07777, 0);
    if (r != 0) return rw.error(errno);
  }
  // Truncate by a caller without CAP_FSETID, or chown (which the host's
  // chown already did) unless an explicit mode follows: set-id bits go first.
  if ((in.valid & FATTR_KILL_SUIDGID) && !(in.valid & FATTR_MODE) && inode->type == S_IFREG)
    if (int err = kill_suidgid(inode->fd.get())) return rw.error(err);
  if (in.valid & FATTR_SIZE) {
    if (in.size > static_cast<uint64_t>(INT64_MAX)) return rw.error(EINVAL);
    int r;
    if (fh >= 0) {
      r = ::ftruncate(fh, static_cast<off_t>(in.size));
    } else {
      if (inode->type == S_IFDIR) return rw.error(EISDIR);
      auto fd = reopen(*inode, O_WRONLY);
      if (!fd.ok()) return rw.error(fd.error().code);
      r = ::ftruncate(fd->get(), static_cast<off_t>(in.size));
    }
    if (r != 0) return rw.error(errno);
  }
  if (in.valid & (FATTR_ATIME | FATTR_MTIME)) {
    timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    if (in.valid & FATTR_ATIME_NOW)
      ts[0].tv_nsec = UTIME_NOW;
    else if (in.valid & FATTR_ATIME)
      ts[0] = {static_cast<time_t>(in.atime), static_cast<long>(in.atimensec)};
    if (in.valid & FATTR_MTIME_NOW)
      ts[1].tv_nsec = UTIME_NOW;
    else if (in.valid & FATTR_MTIME)
      ts[1] = {static_cast<time_t>(in.mtime), static_cast<long>(in.mtimensec)};
    int r = inode->type == S_IFLNK ? ::utimensat(inode->fd.get(), "", ts, AT_EMPTY_PATH)
                                   : ::utimensat(proc_fd_.get(), name.c_str(), ts, 0);
    if (r != 0) return rw.error(errno);
  }
  return reply_attr(*inode, rw);
}

uint32_t PassthroughFs::op_readlink(const Request& req, Reply& rw) {
  Inode* inode = node(req);
  if (!inode) return rw.error(EBADF);
  if (inode->type != S_IFLNK) return rw.error(EINVAL);
  char buf[PATH_MAX];
  ssize_t n = ::readlinkat(inode->fd.get(), "", buf, sizeof buf);
  if (n < 0) return rw.error(errno);
  return rw.ok({reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)});
}

uint32_t PassthroughFs::op_statfs(const Request& req, Reply& rw) {
  Inode* inode = node(req);
  if (!inode) return rw.error(EBADF);
  struct statvfs sv;
  if (::fstatvfs(inode->fd.get(), &sv) != 0) return rw.error(errno);
  fuse_statfs_out out{};
  out.st.blocks = sv.f_blocks;
  out.st.bfree = sv.f_bfree;
  out.st.bavail = sv.f_bavail;
  out.st.files = sv.f_files;
  out.st.ffree = sv.f_ffree;
  out.st.bsize = static_cast<uint32_t>(sv.f_bsize);
  out.st.namelen = static_cast<uint32_t>(sv.f_namemax);
  out.st.frsize = static_cast<uint32_t>(sv.f_frsize);
  return rw.ok_struct(out);
}

uint32_t PassthroughFs::op_access(const Request& req, Reply& rw) {
  Inode* inode = node(req);
  ArgReader a(req.args);
  fuse_access_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  if (!inode) return rw.error(EBADF);
  auto st = stat_inode(*inode);
  if (!st.ok()) return rw.error(st.error().code);
  const uint32_t mask = in.mask & (R_OK | W_OK | X_OK);
  if (readonly() && (mask & W_OK)) return rw.error(EROFS);
  const mode_t m = st->st_mode;
  if (req.in.uid == 0) {
    // Root may do anything but execute a file nobody may execute.
    bool exec_ok = S_ISDIR(m) || (m & (S_IXUSR | S_IXGRP | S_IXOTH));
    return (mask & X_OK) && !exec_ok ? rw.error(EACCES) : rw.ok();
  }
  unsigned shift = req.in.uid == st->st_uid ? 6 : req.in.gid == st->st_gid ? 3 : 0;
  return ((m >> shift) & mask) == mask ? rw.ok() : rw.error(EACCES);
}

uint32_t PassthroughFs::op_setxattr(const Request& req, Reply& rw) {
  Inode* inode = node(req);
  ArgReader a(req.args);
  fuse_setxattr_in in;
  // Without FUSE_SETXATTR_EXT (we do not ask for it) the struct is short.
  if (!a.read_prefix(in, FUSE_COMPAT_SETXATTR_IN_SIZE)) return rw.error(EINVAL);
  auto name = a.cstring(XATTR_NAME_MAX);
  if (!inode) return rw.error(EBADF);
  if (!name || name->empty() || in.size > XATTR_SIZE_MAX) return rw.error(EINVAL);
  if (in.flags & ~(XATTR_CREATE | XATTR_REPLACE)) return rw.error(EINVAL);
  std::string n(*name);
  auto value = a.bytes(in.size);
  if (!value) return rw.error(EINVAL);
  if (::setxattr(proc_path(inode->fd.get()).c_str(), n.c_str(), value->data(), value->size(),
                 static_cast<int>(in.flags)) != 0)
    return rw.error(errno);
  return rw.ok();
}

uint32_t PassthroughFs::op_getxattr(const Request& req, Reply& rw, bool list) {
  Inode* inode = node(req);
  ArgReader a(req.args);
  fuse_getxattr_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  std::string n;
  if (!list) {
    auto name = a.cstring(XATTR_NAME_MAX);
    if (!name || name->empty()) return rw.error(EINVAL);
    n = *name;
  }
  if (!inode) return rw.error(EBADF);
  const std::string path = proc_path(inode->fd.get());
  auto call = [&](void* buf, size_t size) {
    return list ? ::listxattr(path.c_str(), static_cast<char*>(buf), size)
                : ::getxattr(path.c_str(), n.c_str(), buf, size);
  };
  if (in.size == 0) {  // the guest asks how big a buffer it needs
    ssize_t r = call(nullptr, 0);
    if (r < 0) return rw.error(errno);
    fuse_getxattr_out out{static_cast<uint32_t>(r), 0};
    return rw.ok_struct(out);
  }
  std::vector<uint8_t> buf(std::min<size_t>({in.size, XATTR_SIZE_MAX, rw.capacity()}));
  if (buf.empty()) return rw.error(ERANGE);
  ssize_t r = call(buf.data(), buf.size());
  if (r < 0) return rw.error(errno);
  return rw.ok({buf.data(), std::min(static_cast<size_t>(r), buf.size())});
}

uint32_t PassthroughFs::op_removexattr(const Request& req, Reply& rw) {
  Inode* inode = node(req);
  ArgReader a(req.args);
  auto name = a.cstring(XATTR_NAME_MAX);
  if (!inode) return rw.error(EBADF);
  if (!name || name->empty()) return rw.error(EINVAL);
  std::string n(*name);
  if (::removexattr(proc_path(inode->fd.get()).c_str(), n.c_str()) != 0) return rw.error(errno);
  return rw.ok();
}

}  // namespace runvm
