// A FUSE server exporting one host directory by passthrough: the protocol
// handlers of virtio-fs, free of any transport (FsDevice feeds it chains;
// tests feed it chains built over plain memory).
//
// Containment: the guest names inodes only by nodeid (an O_PATH fd in the
// InodeTable) plus single path components that is_safe_name() accepted, and
// every syscall works relative to those fds without following symlinks
// (O_NOFOLLOW / AT_SYMLINK_NOFOLLOW / AT_EMPTY_PATH). Inodes are reopened for
// I/O through /proc/self/fd only when they are regular files or directories
// (never symlinks, devices or FIFOs), so no path from the guest is resolved
// outside the shared directory.
//
// Single-threaded: one caller at a time.
#pragma once

#include <linux/fuse.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shim/fs/dir_listings.h"
#include "shim/fs/fs_config.h"
#include "shim/fs/fuse_request.h"
#include "shim/fs/fuse_server.h"
#include "shim/fs/inode_table.h"
#include "shim/fs/tmpfile_stock.h"
#include "shim/fs/xattr_scan.h"
#include "shim/virtio/virtqueue.h"

namespace runvm {

class PassthroughFs : public FuseServer {
 public:
  static Result<std::unique_ptr<PassthroughFs>> create(FsConfig cfg);

  // Turns every later mutation into EROFS. A read-only container root is
  // sealed once the agent has created its mountpoints and cwd in it (runc
  // makes those before its read-only remount too); called from any thread.
  void seal_readonly() { readonly_.store(true, std::memory_order_relaxed); }
  bool readonly() const { return readonly_.load(std::memory_order_relaxed); }

  bool initialized() const { return initialized_; }
  size_t inode_count() const { return inodes_.size(); }
  size_t handle_count() const { return handles_.size(); }
  size_t listing_count() const { return listings_.size(); }
  // FsConfig::xattrs_if_present: the walk deciding it; null otherwise.
  fuse::XattrScan* xattr_scan() { return xattr_scan_.get(); }
  // FsConfig::precreate: files made ahead of time; null otherwise.
  fuse::TmpfileStock* tmpfile_stock() { return stock_.get(); }

 private:
  using Request = fuse::Request;
  using Reply = fuse::ReplyWriter;
  using Inode = fuse::Inode;

  PassthroughFs(FsConfig cfg, UniqueFd root, const struct stat& st, UniqueFd proc_fd);
  uint32_t dispatch(const Request& req, Reply& rw) override;

  // Helpers (passthrough_fs.cc).
  fuse_entry_out entry_for(const Inode& inode, const struct stat& st) const;
  // Looks `name` up under `parent` and counts a lookup; errno on failure.
  // `seen`, if given, tells what the guest already knew of the inode found.
  struct Seen {
    bool held = false;     // it held the inode before this entry
    uint64_t last_ns = 0;  // when it was last given an entry for it
  };
  Result<fuse_entry_out> lookup_entry(Inode& parent, std::string_view name, Seen* seen = nullptr);
  // Counts a LOOKUP's outcome by kind (fuse::Stats::Lookup).
  void count_lookup(const Inode& parent, std::string_view name, bool missed, const Seen& seen);
  Result<struct stat> stat_inode(const Inode& inode) const;
  // "N" for /proc/self/fd/N, for use with proc_fd_.
  static std::string fd_name(int fd);
  // A real open file description for a regular file or directory.
  Result<UniqueFd> reopen(const Inode& inode, int flags) const;
  // Restores mode bits the host umask took from a guest-requested mode.
  void apply_exact_mode(const Inode& inode, mode_t mode) const;
  int open_flags_for_host(uint32_t guest_flags) const;
  // FOPEN_* of an OPEN or CREATE reply, for the guest's open(2) flags.
  uint32_t open_reply_flags(uint32_t open_flags) const;
  // Whether a miss under `parent` may be a negative entry (cache_misses).
  bool miss_cacheable(const Inode& parent) const;
  // FUSE_HANDLE_KILLPRIV_V2: the guest leaves clearing set-user-ID (and
  // group-executable set-group-ID) bits on write, truncate and chown to us.
  // Clears them on the regular file `fd` refers to (any kind of fd); 0 or an
  // errno. Our writes run with CAP_FSETID, so the host kernel would not.
  int kill_suidgid(int fd) const;
  bool read_only_request(uint32_t opcode) const;
  static bool is_xattr_request(uint32_t opcode);
  // Whether an xattr request is to be answered ENOSYS (FsConfig::xattrs and
  // xattrs_if_present).
  bool xattrs_off(uint32_t opcode);
  // FsConfig::visible: whether `name` in `dir` is out of the guest's reach.
  bool hidden(const Inode& dir, std::string_view name) const;
  uint64_t entry_timeout() const;
  static uint64_t now_ns();
  Inode* node(const Request& req) { return inodes_.get(req.in.nodeid); }
  // The fd a request about an open file works on: its handle's, or, for fh 0
  // on a handle-less share (FsConfig::handles), one reopened from the node
  // with `flags` for this request alone. EBADF for an unknown handle or node.
  struct OpenFd {
    int fd = -1;
    UniqueFd owned;  // the reopened fd, if any
  };
  Result<OpenFd> open_fd(uint64_t nodeid, uint64_t fh, int flags);
  bool by_handle(uint64_t fh) const { return fh != 0 || !handleless_; }

  // The arguments of a request about a name in the node's directory: a
  // fixed header `In` (none for NoHeader), then the name. Fails with the
  // errno to reply: EINVAL for a short header or bad name, EBADF for an
  // unknown node.
  struct NoHeader {};
  template <class In>
  struct NamedArgs {
    Inode* parent;
    In in;
    std::string name;
  };
  template <class In = NoHeader>
  Result<NamedArgs<In>> named_args(const Request& req) {
    fuse::ArgReader a(req.args);
    In in{};
    if constexpr (!std::is_empty_v<In>)
      if (!a.read(in)) return make_error("short header", EINVAL);
    auto name = a.name();
    Inode* parent = node(req);
    if (!parent) return make_error("unknown node", EBADF);
    if (!name) return make_error("bad name", a.name_errno());
    return NamedArgs<In>{parent, in, std::string(*name)};
  }

  // Session (passthrough_fs.cc).
  uint32_t op_init(const Request& req, Reply& rw);
  uint32_t op_destroy(Reply& rw);
  void op_forget(const Request& req);
  void op_batch_forget(const Request& req);

  // Names (fs_entry_ops.cc).
  uint32_t op_lookup(const Request& req, Reply& rw);
  uint32_t op_mknod(const Request& req, Reply& rw);
  uint32_t op_mkdir(const Request& req, Reply& rw);
  uint32_t op_symlink(const Request& req, Reply& rw);
  uint32_t op_link(const Request& req, Reply& rw);
  uint32_t op_unlink(const Request& req, Reply& rw, bool dir);
  uint32_t op_rename(const Request& req, Reply& rw, bool v2);
  // A regular file of `mode` (07777) made ahead of time in `parent` for the
  // request's caller, linked as `name` (FsConfig::precreate); its fd (O_RDWR)
  // or, if none was in stock or the link failed, none (then create it as
  // usual: that reports the errors).
  UniqueFd link_stocked(const Request& req, const Inode& parent, const std::string& name,
                        mode_t mode);
  // The common tail of the creating ops: entry for the new name.
  uint32_t reply_new_entry(Inode& parent, std::string_view name, mode_t exact_mode, Reply& rw);

  // Attributes and xattrs (fs_attr_ops.cc).
  uint32_t op_getattr(const Request& req, Reply& rw);
  uint32_t op_setattr(const Request& req, Reply& rw);
  uint32_t op_readlink(const Request& req, Reply& rw);
  uint32_t op_statfs(const Request& req, Reply& rw);
  uint32_t op_access(const Request& req, Reply& rw);
  uint32_t op_setxattr(const Request& req, Reply& rw);
  uint32_t op_getxattr(const Request& req, Reply& rw, bool list);
  uint32_t op_removexattr(const Request& req, Reply& rw);
  // The common tail of getattr and setattr: the inode's attributes now.
  uint32_t reply_attr(const Inode& inode, Reply& rw);

  // Open files (fs_file_ops.cc).
  uint32_t op_open(const Request& req, Reply& rw);
  uint32_t op_create(const Request& req, Reply& rw);
  uint32_t op_read(const Request& req, Reply& rw);
  uint32_t op_write(const Request& req, Reply& rw);
  uint32_t op_release(const Request& req, Reply& rw);
  uint32_t op_fsync(const Request& req, Reply& rw);
  uint32_t op_flush(const Request& req, Reply& rw);
  uint32_t op_fallocate(const Request& req, Reply& rw);
  uint32_t op_lseek(const Request& req, Reply& rw);
  uint32_t op_copy_file_range(const Request& req, Reply& rw);

  // Directories (fs_dir_ops.cc).
  uint32_t op_opendir(const Request& req, Reply& rw);
  uint32_t op_readdir(const Request& req, Reply& rw, bool plus);

  FsConfig cfg_;
  std::atomic<bool> readonly_;  // starts as cfg_.readonly
  UniqueFd proc_fd_;            // /proc/self/fd, O_PATH
  fuse::InodeTable inodes_;
  fuse::HandleTable handles_;
  fuse::DirListings listings_;  // handle-less shares: READDIR's fds
  mode_t host_umask_ = 0;
  bool initialized_ = false;
  bool writeback_ = false;  // FUSE_WRITEBACK_CACHE negotiated
  // No OPEN, OPENDIR or CREATE handles (FsConfig::handles off): fh 0 names
  // the node itself.
  bool handleless_ = false;
  std::unique_ptr<fuse::XattrScan> xattr_scan_;
  std::unique_ptr<fuse::TmpfileStock> stock_;
  // The last misses answered (parent nodeid, name hash, when), for
  // count_lookup's miss_again: a ring, as only a prompt repeat matters.
  struct Miss {
    uint64_t parent = 0;
    size_t name_hash = 0;
    uint64_t ns = 0;
  };
  std::array<Miss, 32> recent_misses_{};
  size_t next_miss_ = 0;
};

}  // namespace runvm
