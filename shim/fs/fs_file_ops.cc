// Open files: open/create, read/write straight between guest buffers and
// the file (preadv/pwritev over the chain's spans), and the rest.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "shim/fs/fs_creds.h"
#include "shim/fs/passthrough_fs.h"

namespace runvm {

using fuse::ArgReader;

namespace {

bool writes(uint32_t flags) { return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC); }

bool valid_offset(uint64_t off) { return off <= static_cast<uint64_t>(INT64_MAX); }

}  // namespace

uint32_t PassthroughFs::op_open(const Request& req, Reply& rw) {
  // The guest then stops asking (FsConfig::handles) and sends fh 0.
  if (handleless_) return rw.error(ENOSYS);
  Inode* inode = node(req);
  ArgReader a(req.args);
  fuse_open_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  if (!inode) return rw.error(EBADF);
  if (readonly() && writes(in.flags)) return rw.error(EROFS);
  if (inode->type == S_IFDIR) return rw.error(EISDIR);
  auto fd = reopen(*inode, open_flags_for_host(in.flags));
  if (!fd.ok()) return rw.error(fd.error().code);
  // O_TRUNC by a caller without CAP_FSETID (the file is empty by now).
  if ((in.open_flags & FUSE_OPEN_KILL_SUIDGID) && (in.flags & O_TRUNC))
    if (int err = kill_suidgid(fd->get())) return rw.error(err);
  fuse_open_out out{};
  out.fh = handles_.add(std::move(*fd));
  out.open_flags = open_reply_flags(in.flags);
  return rw.ok_struct(out);
}

uint32_t PassthroughFs::op_create(const Request& req, Reply& rw) {
  // The guest then creates by MKNOD and opens without a handle: a CREATE
  // handle would never be released (without OPEN the guest sends no RELEASE).
  if (handleless_) return rw.error(ENOSYS);
  auto args = named_args<fuse_create_in>(req);
  if (!args.ok()) return rw.error(args.error().code);
  Inode* parent = args->parent;
  const auto& in = args->in;
  const std::string& n = args->name;
  const mode_t mode = in.mode & 07777;
  const int flags = open_flags_for_host(in.flags) | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
  UniqueFd fd;
  bool created = true;
  if (UniqueFd stocked = link_stocked(req, *parent, n, mode); stocked) {
    // Opened as the new file's creator is (O_CREAT checks no permission of
    // the file it made): by the shim's own credentials.
    fd.reset(::openat(proc_fd_.get(), fd_name(stocked.get()).c_str(), flags & ~O_NOFOLLOW));
    if (!fd) return rw.error(errno);
  } else {
    auto creds = fuse::ScopedFsCreds::become(req.in.uid, req.in.gid);
    if (!creds.ok()) return rw.error(creds.error().code);
    // Exclusive first, so we know whether the file is ours to fix up.
    fd.reset(::openat(parent->fd.get(), n.c_str(), flags | O_CREAT | O_EXCL, mode));
    if (!fd && errno == EEXIST && !(in.flags & O_EXCL))
      created = false;
    else if (!fd)
      return rw.error(errno);
  }
  if (!created) {
    // Open what is there only if it is a regular file: a FIFO would block us
    // and a device node would be the host's device.
    UniqueFd path(::openat(parent->fd.get(), n.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!path || ::fstat(path.get(), &st) != 0) return rw.error(errno);
    if (S_ISDIR(st.st_mode)) return rw.error(EISDIR);
    if (S_ISLNK(st.st_mode)) return rw.error(ELOOP);
    if (!S_ISREG(st.st_mode)) return rw.error(EACCES);
    fd.reset(::openat(proc_fd_.get(), fd_name(path.get()).c_str(), flags & ~O_NOFOLLOW));
    if (!fd) return rw.error(errno);
  }
  // An existing file truncated by a caller without CAP_FSETID.
  if (!created && (in.open_flags & FUSE_OPEN_KILL_SUIDGID) && (in.flags & O_TRUNC))
    if (int err = kill_suidgid(fd.get())) return rw.error(err);
  if (const mode_t lost = mode & 0777 & host_umask_; created && lost) {
    struct stat st;
    if (::fstat(fd.get(), &st) == 0) (void)::fchmod(fd.get(), (st.st_mode & 07777) | lost);
  }
  auto e = lookup_entry(*parent, n);
  if (!e.ok()) return rw.error(e.error().code);
  struct {
    fuse_entry_out entry;
    fuse_open_out open;
  } out{};
  out.entry = *e;
  out.open.fh = handles_.add(std::move(fd));
  out.open.open_flags = open_reply_flags(in.flags);
  uint32_t len = rw.ok_struct(out);
  if (len == 0 || len < sizeof(fuse_out_header) + sizeof out) {
    // The guest cannot learn of the handle or lookup: take both back.
    handles_.remove(out.open.fh);
    inodes_.forget(out.entry.nodeid, 1);
  }
  return len;
}

uint32_t PassthroughFs::op_read(const Request& req, Reply& rw) {
  ArgReader a(req.args);
  fuse_read_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  if (!valid_offset(in.offset)) return rw.error(EINVAL);
  auto file = open_fd(req.in.nodeid, in.fh, O_RDONLY);
  if (!file.ok()) return rw.error(file.error().code);
  const int fd = file->fd;
  auto iov = rw.payload_iov(std::min<size_t>(in.size, rw.capacity()));
  size_t done = 0;
  for (size_t i = 0; i < iov.size();) {
    const int n_iov = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
    size_t want = 0;
    for (int k = 0; k < n_iov; ++k) want += iov[i + k].iov_len;
    ssize_t n = ::preadv(fd, &iov[i], n_iov, static_cast<off_t>(in.offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done == 0) return rw.error(errno);
      break;
    }
    done += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < want) break;  // end of file
    i += n_iov;
  }
  return rw.finish(done);
}

uint32_t PassthroughFs::op_write(const Request& req, Reply& rw) {
  ArgReader a(req.args);
  fuse_write_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  if (!valid_offset(in.offset)) return rw.error(EINVAL);
  // The guest computed the offset (an O_APPEND write's too) and sends
  // O_SYNC's FSYNC itself, so the access mode is all a reopen needs, but for
  // O_APPEND on a coherent share: the host may have appended too, and its
  // end of file is the one to write at (as an OPEN handle's O_APPEND does).
  const int append = cfg_.cache == CachePolicy::kCoherent ? in.flags & O_APPEND : 0;
  auto file = open_fd(req.in.nodeid, in.fh, O_WRONLY | append);
  if (!file.ok()) return rw.error(file.error().code);
  const int fd = file->fd;
  // Before the data goes in, as the kernel does: never a modified set-id file.
  if (in.write_flags & FUSE_WRITE_KILL_SUIDGID)
    if (int err = kill_suidgid(fd)) return rw.error(err);
  const auto& iov = req.write_data;
  size_t done = 0;
  for (size_t i = 0; i < iov.size();) {
    const int n_iov = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
    size_t want = 0;
    for (int k = 0; k < n_iov; ++k) want += iov[i + k].iov_len;
    ssize_t n = ::pwritev(fd, &iov[i], n_iov, static_cast<off_t>(in.offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done == 0) return rw.error(errno);
      break;
    }
    done += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < want) break;  // short write: report what went
    i += n_iov;
  }
  fuse_write_out out{static_cast<uint32_t>(done), 0};
  return rw.ok_struct(out);
}

uint32_t PassthroughFs::op_release(const Request& req, Reply& rw) {
  ArgReader a(req.args);
  fuse_release_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  if (!handles_.remove(in.fh)) return rw.error(EBADF);
  return rw.ok();
}

uint32_t PassthroughFs::op_fsync(const Request& req, Reply& rw) {
  ArgReader a(req.args);
  fuse_fsync_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  // fsync(2) needs no write access: any fd of the inode flushes it.
  auto file = open_fd(req.in.nodeid, in.fh, O_RDONLY);
  if (!file.ok()) return rw.error(file.error().code);
  const int fd = file->fd;
  int r = (in.fsync_flags & FUSE_FSYNC_FDATASYNC) ? ::fdatasync(fd) : ::fsync(fd);
  return r == 0 ? rw.ok() : rw.error(errno);
}

uint32_t PassthroughFs::op_flush(const Request& req, Reply& rw) {
  ArgReader a(req.args);
  fuse_flush_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  // Locks stay in the guest (no FUSE_POSIX_LOCKS) and writes are synchronous
  // (the guest writes its dirty pages back before it sends FLUSH): nothing to
  // flush, ever. ENOSYS makes the guest stop sending FLUSH (fc->no_flush), one
  // synchronous round trip less per close().
  return rw.error(ENOSYS);
}

uint32_t PassthroughFs::op_fallocate(const Request& req, Reply& rw) {
  ArgReader a(req.args);
  fuse_fallocate_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  if (!valid_offset(in.offset) || !valid_offset(in.length)) return rw.error(EINVAL);
  auto file = open_fd(req.in.nodeid, in.fh, O_WRONLY);
  if (!file.ok()) return rw.error(file.error().code);
  if (::fallocate(file->fd, static_cast<int>(in.mode), static_cast<off_t>(in.offset),
                  static_cast<off_t>(in.length)) != 0)
    return rw.error(errno);
  return rw.ok();
}

uint32_t PassthroughFs::op_lseek(const Request& req, Reply& rw) {
  ArgReader a(req.args);
  fuse_lseek_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  if (!valid_offset(in.offset)) return rw.error(EINVAL);
  if (in.whence != SEEK_SET && in.whence != SEEK_CUR && in.whence != SEEK_END &&
      in.whence != SEEK_DATA && in.whence != SEEK_HOLE)
    return rw.error(EINVAL);
  // SEEK_DATA/SEEK_HOLE (all the guest sends) do not depend on the position.
  auto file = open_fd(req.in.nodeid, in.fh, O_RDONLY);
  if (!file.ok()) return rw.error(file.error().code);
  off_t r = ::lseek(file->fd, static_cast<off_t>(in.offset), static_cast<int>(in.whence));
  if (r < 0) return rw.error(errno);
  fuse_lseek_out out{static_cast<uint64_t>(r)};
  return rw.ok_struct(out);
}

uint32_t PassthroughFs::op_copy_file_range(const Request& req, Reply& rw) {
  ArgReader a(req.args);
  fuse_copy_file_range_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  if (!valid_offset(in.off_in) || !valid_offset(in.off_out) || in.flags != 0)
    return rw.error(EINVAL);
  auto in_file = open_fd(req.in.nodeid, in.fh_in, O_RDONLY);
  if (!in_file.ok()) return rw.error(in_file.error().code);
  auto out_file = open_fd(in.nodeid_out, in.fh_out, O_WRONLY);
  if (!out_file.ok()) return rw.error(out_file.error().code);
  const int from = in_file->fd, to = out_file->fd;
  loff_t off_in = static_cast<loff_t>(in.off_in), off_out = static_cast<loff_t>(in.off_out);
  // The reply counts in 32 bits.
  size_t len = static_cast<size_t>(std::min<uint64_t>(in.len, 1u << 30));
  ssize_t n = ::copy_file_range(from, &off_in, to, &off_out, len, 0);
  if (n < 0) return rw.error(errno);
  fuse_write_out out{static_cast<uint32_t>(n), 0};
  return rw.ok_struct(out);
}

}  // namespace runvm
