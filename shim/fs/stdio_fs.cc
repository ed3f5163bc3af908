#include "shim/fs/stdio_fs.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>

namespace runvm {
namespace {

constexpr uint64_t kFirstFile = FUSE_ROOT_ID + 1;  // "0" .. "2": kFirstFile + fd

}  // namespace

int StdioFs::fd_of(uint64_t nodeid) const {
  if (nodeid < kFirstFile || nodeid >= kFirstFile + fds_.size()) return -1;
  return fds_[nodeid - kFirstFile];
}

bool StdioFs::attr_of(uint64_t nodeid, fuse_attr& out) const {
  if (nodeid == FUSE_ROOT_ID) {
    out = fuse_attr{};
    out.ino = FUSE_ROOT_ID;
    out.mode = S_IFDIR | 0555;
    out.nlink = 2;
    out.blksize = kPageSize;
    return true;
  }
  int fd = fd_of(nodeid);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) < 0) return false;
  out = fuse::attr_from_stat(st);
  return true;
}

uint32_t StdioFs::dispatch(const Request& req, Reply& rw) {
  const uint32_t op = req.in.opcode;
  if (op == FUSE_INIT) return op_init(req, rw);
  if (!initialized_) return op == FUSE_FORGET || op == FUSE_BATCH_FORGET ? 0 : rw.error(EIO);
  switch (op) {
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
    case FUSE_INTERRUPT:
      return 0;  // fixed nodes, synchronous requests: nothing to do
    case FUSE_DESTROY:
      initialized_ = false;
      return rw.ok();
    case FUSE_LOOKUP:
      return op_lookup(req, rw);
    case FUSE_GETATTR:
      return op_getattr(req.in.nodeid, rw);
    case FUSE_SETATTR:
      return op_setattr(req, rw);
    case FUSE_OPEN:
      return op_open(req, rw);
    case FUSE_READ:
      return op_read(req, rw);
    case FUSE_WRITE:
      return op_write(req, rw);
    case FUSE_OPENDIR: {
      if (req.in.nodeid != FUSE_ROOT_ID) return rw.error(ENOTDIR);
      fuse_open_out out{};
      return rw.ok_struct(out);
    }
    case FUSE_READDIR:
      return rw.finish(0);  // nothing to list: the agent opens by name
    case FUSE_FLUSH:
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
      return rw.ok();
    case FUSE_FSYNC: {
      fuse::ArgReader a(req.args);
      fuse_fsync_in in;
      int fd = a.read(in) ? fd_of(in.fh) : -1;
      if (fd < 0) return rw.error(EBADF);
      return ::fsync(fd) < 0 && errno != EINVAL ? rw.error(errno) : rw.ok();
    }
    case FUSE_STATFS: {
      fuse_statfs_out out{};
      out.st.bsize = out.st.frsize = kPageSize;
      out.st.namelen = NAME_MAX;
      return rw.ok_struct(out);
    }
    default:
      return rw.error(ENOSYS);
  }
}

uint32_t StdioFs::op_init(const Request& req, Reply& rw) {
  fuse_init_in in;
  if (int err = parse_init(req, in)) return rw.error(err);
  fuse_init_out out{};
  out.major = FUSE_KERNEL_VERSION;
  out.minor = std::min<uint32_t>(in.minor, FUSE_KERNEL_MINOR_VERSION);
  out.flags = in.flags & (FUSE_BIG_WRITES | FUSE_MAX_PAGES);
  out.max_background = 16;
  out.congestion_threshold = 12;
  out.max_pages = static_cast<uint16_t>(max_pages());
  out.max_write = max_pages() * kPageSize;
  out.time_gran = 1;
  initialized_ = true;
  return rw.ok_struct(out);
}

uint32_t StdioFs::op_lookup(const Request& req, Reply& rw) {
  fuse::ArgReader a(req.args);
  auto name = a.name();
  if (!name) return rw.error(a.name_errno());
  if (req.in.nodeid != FUSE_ROOT_ID) return rw.error(ENOTDIR);
  if (name->size() != 1 || (*name)[0] < '0' || (*name)[0] > '2') return rw.error(ENOENT);
  fuse_entry_out e{};
  e.nodeid = kFirstFile + static_cast<uint64_t>((*name)[0] - '0');
  // Never cached: the host file changes behind the guest's back.
  if (!attr_of(e.nodeid, e.attr)) return rw.error(ENOENT);
  return rw.ok_struct(e);
}

uint32_t StdioFs::op_getattr(uint64_t nodeid, Reply& rw) {
  fuse_attr_out out{};
  if (!attr_of(nodeid, out.attr)) return rw.error(ENOENT);
  return rw.ok_struct(out);
}

uint32_t StdioFs::op_setattr(const Request& req, Reply& rw) {
  fuse::ArgReader a(req.args);
  fuse_setattr_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  int fd = fd_of(req.in.nodeid);
  if (fd < 0) return rw.error(EPERM);
  // The caller's file is not the container's to chmod or chown; times and
  // the like are left to the writes.
  if (in.valid & (FATTR_MODE | FATTR_UID | FATTR_GID)) return rw.error(EPERM);
  if (in.valid & FATTR_SIZE) {
    if (req.in.nodeid == kFirstFile) return rw.error(EACCES);  // stdin is read-only
    if (::ftruncate(fd, static_cast<off_t>(std::min<uint64_t>(in.size, INT64_MAX))) < 0)
      return rw.error(errno);
  }
  return op_getattr(req.in.nodeid, rw);
}

uint32_t StdioFs::op_open(const Request& req, Reply& rw) {
  fuse::ArgReader a(req.args);
  fuse_open_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  if (fd_of(req.in.nodeid) < 0) return rw.error(req.in.nodeid == FUSE_ROOT_ID ? EISDIR : ENOENT);
  const int want = req.in.nodeid == kFirstFile ? O_RDONLY : O_WRONLY;
  if ((static_cast<int>(in.flags) & O_ACCMODE) != want) return rw.error(EACCES);
  fuse_open_out out{};
  out.fh = req.in.nodeid;
  // No page cache: every read and write reaches us, in order. So nothing is
  // left for a FLUSH to write: without it each close() of one of these fds
  // (the process's exec and exit, the agent's own copies) is no round trip.
  out.open_flags = FOPEN_DIRECT_IO | FOPEN_NOFLUSH;
  return rw.ok_struct(out);
}

uint32_t StdioFs::op_read(const Request& req, Reply& rw) {
  fuse::ArgReader a(req.args);
  fuse_read_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  // fh is the node (op_open).
  if (in.fh != kFirstFile || fd_of(in.fh) < 0) return rw.error(EBADF);
  auto iov = rw.payload_iov(std::min<size_t>(in.size, rw.capacity()));
  // The guest's offset is ignored: the host fd's own offset is the one
  // shared with the caller, as for a process holding the fd itself.
  const int n_iov = static_cast<int>(std::min<size_t>(iov.size(), IOV_MAX));
  ssize_t n;
  do {
    n = ::readv(fd_of(in.fh), iov.data(), n_iov);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return rw.error(errno);
  return rw.finish(static_cast<size_t>(n));
}

uint32_t StdioFs::op_write(const Request& req, Reply& rw) {
  fuse::ArgReader a(req.args);
  fuse_write_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  int fd = fd_of(in.fh);
  if (in.fh == kFirstFile || fd < 0) return rw.error(EBADF);
  // write(2), not pwrite: the host's offset and O_APPEND decide where.
  std::vector<iovec> iov = req.write_data;
  size_t done = 0, i = 0;
  while (i < iov.size()) {
    const int n_iov = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
    ssize_t n = ::writev(fd, &iov[i], n_iov);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done == 0) return rw.error(errno);
      break;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
    // Skip what went, resuming mid-iovec after a short write.
    for (size_t left = static_cast<size_t>(n); left > 0 && i < iov.size();) {
      size_t take = std::min(left, iov[i].iov_len);
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + take;
      iov[i].iov_len -= take;
      left -= take;
      if (iov[i].iov_len == 0) ++i;
    }
  }
  fuse_write_out out{static_cast<uint32_t>(done), 0};
  return rw.ok_struct(out);
}

}  // namespace runvm
