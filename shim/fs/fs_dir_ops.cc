// Directories: opendir and readdir/readdirplus. Directory offsets are the
// host's own d_off cookies, so a READDIR resumes with lseek on the handle.
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "shim/fs/passthrough_fs.h"

namespace runvm {

using fuse::ArgReader;

namespace {

struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

size_t aligned_size(size_t header, size_t namelen) {
  return (header + namelen + sizeof(uint64_t) - 1) & ~(sizeof(uint64_t) - 1);
}

}  // namespace

uint32_t PassthroughFs::op_opendir(const Request& req, Reply& rw) {
  Inode* inode = node(req);
  ArgReader a(req.args);
  fuse_open_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  // Handle-less (FsConfig::handles off): the guest then stops sending
  // OPENDIR (fc->no_opendir) and its synchronous RELEASEDIR, two round trips
  // per directory listed, keeps its listing cache across opens as our reply
  // below asks (FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR are its no-opendir
  // default), and lists by nodeid with fh 0 (DirListings).
  if (handleless_) return rw.error(ENOSYS);
  if (!inode) return rw.error(EBADF);
  if (inode->type != S_IFDIR) return rw.error(ENOTDIR);
  auto fd = reopen(*inode, O_RDONLY);
  if (!fd.ok()) return rw.error(fd.error().code);
  fuse_open_out out{};
  out.fh = handles_.add(std::move(*fd));
  if (cfg_.cache == CachePolicy::kExclusive) out.open_flags = FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR;
  return rw.ok_struct(out);
}

uint32_t PassthroughFs::op_readdir(const Request& req, Reply& rw, bool plus) {
  ArgReader a(req.args);
  fuse_read_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  Inode* dir = node(req);
  if (!dir) return rw.error(EBADF);
  if (in.offset > static_cast<uint64_t>(INT64_MAX)) return rw.error(EINVAL);
  int fd = -1;
  if (by_handle(in.fh)) {
    fd = handles_.get(in.fh);
    if (fd < 0) return rw.error(EBADF);
  } else {
    // Handle-less: one fd per listing (DirListings), from its offset 0 on.
    if (dir->type != S_IFDIR) return rw.error(ENOTDIR);
    fd = listings_.find(dir->nodeid, in.offset);
    if (fd < 0) {
      auto opened = reopen(*dir, O_RDONLY);
      if (!opened.ok()) return rw.error(opened.error().code);
      fd = listings_.start(dir->nodeid, std::move(*opened));
    }
  }
  if (::lseek(fd, static_cast<off_t>(in.offset), SEEK_SET) < 0) return rw.error(errno);

  const size_t limit = std::min<size_t>(in.size, rw.capacity());
  std::vector<uint8_t> out;
  out.reserve(limit);
  alignas(LinuxDirent64) uint8_t raw[16 * 1024];
  bool full = false;
  while (!full) {
    long n = ::syscall(SYS_getdents64, fd, raw, sizeof raw);
    if (n < 0) {
      if (out.empty()) return rw.error(errno);
      break;
    }
    if (n == 0) break;
    for (long pos = 0; pos < n;) {
      const auto* d = reinterpret_cast<const LinuxDirent64*>(raw + pos);
      pos += d->d_reclen;
      std::string_view name(d->d_name);
      if (name != "." && name != ".." && hidden(*dir, name)) continue;
      const size_t header =
          plus ? offsetof(fuse_direntplus, dirent.name) : offsetof(fuse_dirent, name);
      const size_t rec = aligned_size(header, name.size());
      if (out.size() + rec > limit) {
        full = true;  // the next READDIR resumes at the last d_off we sent
        break;
      }
      fuse_dirent de{};
      de.ino = d->d_ino;
      de.off = static_cast<uint64_t>(d->d_off);
      de.namelen = static_cast<uint32_t>(name.size());
      de.type = d->d_type;
      fuse_entry_out entry{};
      if (plus && name != "." && name != "..") {
        // A lookup the guest is now told about; an entry that vanished
        // meanwhile goes out without one (nodeid 0).
        if (auto e = lookup_entry(*dir, name); e.ok()) entry = *e;
      }
      const size_t at = out.size();
      out.resize(at + rec, 0);
      uint8_t* p = out.data() + at;
      if (plus) {
        std::memcpy(p, &entry, sizeof entry);
        p += sizeof entry;
      }
      std::memcpy(p, &de, sizeof de);
      std::memcpy(p + sizeof de, name.data(), name.size());
    }
  }
  return rw.ok({out.data(), out.size()});
}

}  // namespace runvm
