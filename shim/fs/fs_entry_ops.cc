// Name operations: lookup, creating and removing names, renames, links.
#include <fcntl.h>
#include <linux/limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "shim/fs/fs_creds.h"
#include "shim/fs/passthrough_fs.h"

namespace runvm {

using fuse::ArgReader;

namespace {

// Runs `op` (a syscall returning < 0 and setting errno on failure) with the
// request's fsuid/fsgid; returns 0 or the errno.
template <class F>
int as_caller(const fuse_in_header& in, F op) {
  auto creds = fuse::ScopedFsCreds::become(in.uid, in.gid);
  if (!creds.ok()) return creds.error().code;
  int err = op() < 0 ? errno : 0;
  return err;
}

}  // namespace

uint32_t PassthroughFs::op_lookup(const Request& req, Reply& rw) {
  auto args = named_args(req);
  if (!args.ok()) return rw.error(args.error().code);
  if (hidden(*args->parent, args->name)) return rw.error(ENOENT);
  Seen seen;
  auto e = lookup_entry(*args->parent, args->name, &seen);
  // Misses and finds are counted by kind; other failures (EACCES...) are
  // the request's error count's.
  if (e.ok() || e.error().code == ENOENT) count_lookup(*args->parent, args->name, !e.ok(), seen);
  if (!e.ok()) {
    // A negative entry (nodeid 0): the guest caches the miss for as long as
    // it would trust a positive entry of this share (a day on an exclusive
    // tree, which nothing else changes; a second on a coherent one, so a
    // name the host creates shows up as fast as one it removes goes away).
    // Without it every path walk through a missing name (npm's stat-before-
    // mkdir, tar's unlink-before-create, module resolution) is a round trip.
    if (e.error().code == ENOENT && miss_cacheable(*args->parent)) {
      fuse_entry_out neg{};
      neg.entry_valid = entry_timeout();
      return rw.ok_struct(neg);
    }
    return rw.error(e.error().code);
  }
  return rw.ok_struct(*e);
}

bool PassthroughFs::miss_cacheable(const Inode& parent) const {
  if (cfg_.cache_misses) return true;
  if (parent.nodeid == FUSE_ROOT_ID) return false;
  if (cfg_.fresh_names_dir.empty()) return true;
  // By identity: the host makes and removes that directory as members come
  // and go.
  struct stat st;
  return ::fstatat(inodes_.root().fd.get(), cfg_.fresh_names_dir.c_str(), &st,
                   AT_SYMLINK_NOFOLLOW) != 0 ||
         st.st_dev != parent.dev || st.st_ino != parent.ino;
}

uint32_t PassthroughFs::reply_new_entry(Inode& parent, std::string_view name, mode_t exact_mode,
                                        Reply& rw) {
  auto e = lookup_entry(parent, name);
  if (!e.ok()) return rw.error(e.error().code);
  Inode* inode = inodes_.get(e->nodeid);
  if (inode && exact_mode) {
    apply_exact_mode(*inode, exact_mode);
    if (auto st = stat_inode(*inode); st.ok()) e->attr = fuse::attr_from_stat(*st);
  }
  return rw.ok_struct(*e);
}

UniqueFd PassthroughFs::link_stocked(const Request& req, const Inode& parent,
                                     const std::string& name, mode_t mode) {
  if (!stock_ || readonly()) return {};
  UniqueFd f = stock_->take({parent.nodeid, req.in.uid, req.in.gid, mode}, parent.fd.get());
  if (!f) return {};
  // As the caller: the directory's permissions are checked now, as
  // mknodat's would be. AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the magic
  // link is equivalent.
  int err = as_caller(req.in, [&] {
    int r = ::linkat(f.get(), "", parent.fd.get(), name.c_str(), AT_EMPTY_PATH);
    if (r != 0 && (errno == ENOENT || errno == EPERM))
      r = ::linkat(proc_fd_.get(), fd_name(f.get()).c_str(), parent.fd.get(), name.c_str(),
                   AT_SYMLINK_FOLLOW);
    return r;
  });
  if (err) return {};  // EEXIST and the like: the usual way reports it
  // Made ahead of time: its times become those of its creation, now.
  (void)::futimens(f.get(), nullptr);
  return f;
}

uint32_t PassthroughFs::op_mknod(const Request& req, Reply& rw) {
  auto args = named_args<fuse_mknod_in>(req);
  if (!args.ok()) return rw.error(args.error().code);
  Inode* parent = args->parent;
  const auto& in = args->in;
  const std::string& n = args->name;
  const mode_t type = in.mode & S_IFMT;
  if (type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK)
    return rw.error(EINVAL);
  if (type == S_IFREG && link_stocked(req, *parent, n, in.mode & 07777))
    return reply_new_entry(*parent, n, in.mode, rw);
  if (int err = as_caller(req.in,
                          [&] { return ::mknodat(parent->fd.get(), n.c_str(), in.mode, in.rdev); }))
    return rw.error(err);
  return reply_new_entry(*parent, n, in.mode, rw);
}

uint32_t PassthroughFs::op_mkdir(const Request& req, Reply& rw) {
  auto args = named_args<fuse_mkdir_in>(req);
  if (!args.ok()) return rw.error(args.error().code);
  Inode* parent = args->parent;
  const auto& in = args->in;
  const std::string& n = args->name;
  const mode_t mode = in.mode & 07777;
  if (int err = as_caller(req.in, [&] { return ::mkdirat(parent->fd.get(), n.c_str(), mode); }))
    return rw.error(err);
  return reply_new_entry(*parent, n, mode | S_IFDIR, rw);
}

uint32_t PassthroughFs::op_symlink(const Request& req, Reply& rw) {
  Inode* parent = node(req);
  ArgReader a(req.args);
  auto name = a.name();
  if (!parent) return rw.error(EBADF);
  if (!name) return rw.error(a.name_errno());
  auto target = a.cstring(PATH_MAX - 1);  // stored verbatim, never followed by us
  if (!target || target->empty()) return rw.error(EINVAL);
  std::string n(*name), t(*target);
  if (int err =
          as_caller(req.in, [&] { return ::symlinkat(t.c_str(), parent->fd.get(), n.c_str()); }))
    return rw.error(err);
  return reply_new_entry(*parent, n, 0, rw);
}

uint32_t PassthroughFs::op_link(const Request& req, Reply& rw) {
  Inode* parent = node(req);
  ArgReader a(req.args);
  fuse_link_in in;
  if (!a.read(in)) return rw.error(EINVAL);
  auto name = a.name();
  Inode* target = inodes_.get(in.oldnodeid);
  if (!parent || !target) return rw.error(EBADF);
  if (!name) return rw.error(a.name_errno());
  if (target->type == S_IFDIR) return rw.error(EPERM);
  std::string n(*name);
  if (::linkat(target->fd.get(), "", parent->fd.get(), n.c_str(), AT_EMPTY_PATH) != 0) {
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the magic link is equivalent.
    if (errno != ENOENT && errno != EPERM) return rw.error(errno);
    if (::linkat(proc_fd_.get(), fd_name(target->fd.get()).c_str(), parent->fd.get(), n.c_str(),
                 AT_SYMLINK_FOLLOW) != 0)
      return rw.error(errno);
  }
  return reply_new_entry(*parent, n, 0, rw);
}

uint32_t PassthroughFs::op_unlink(const Request& req, Reply& rw, bool dir) {
  auto args = named_args(req);
  if (!args.ok()) return rw.error(args.error().code);
  // The inode stays in the table (and open) until the guest forgets it.
  if (::unlinkat(args->parent->fd.get(), args->name.c_str(), dir ? AT_REMOVEDIR : 0) != 0)
    return rw.error(errno);
  return rw.ok();
}

uint32_t PassthroughFs::op_rename(const Request& req, Reply& rw, bool v2) {
  Inode* parent = node(req);
  ArgReader a(req.args);
  uint64_t newdir = 0;
  uint32_t flags = 0;
  if (v2) {
    fuse_rename2_in in;
    if (!a.read(in)) return rw.error(EINVAL);
    newdir = in.newdir;
    flags = in.flags;
  } else {
    fuse_rename_in in;
    if (!a.read(in)) return rw.error(EINVAL);
    newdir = in.newdir;
  }
  auto oldname = a.name();
  const int old_errno = a.name_errno();
  auto newname = oldname ? a.name() : std::nullopt;
  Inode* newparent = inodes_.get(newdir);
  if (!parent || !newparent) return rw.error(EBADF);
  if (!oldname) return rw.error(old_errno);
  if (!newname) return rw.error(a.name_errno());
  if (!cfg_.visible.empty() && newdir == FUSE_ROOT_ID) return rw.error(EACCES);
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return rw.error(EINVAL);
  std::string o(*oldname), n(*newname);
  if (::renameat2(parent->fd.get(), o.c_str(), newparent->fd.get(), n.c_str(), flags) != 0)
    return rw.error(errno);
  return rw.ok();
}

}  // namespace runvm
