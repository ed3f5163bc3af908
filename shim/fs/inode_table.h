// The guest's view of host inodes: each FUSE nodeid names an O_PATH fd
// (opened without following symlinks) to one host inode, keyed by (dev, ino)
// so hard links share a nodeid, and kept until the guest forgets every
// lookup it was told about. Nodeid 1 is the shared root and is never dropped.
// Nodeids are never reused, so a stale one from the guest simply misses.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include "spec/base/unique_fd.h"

namespace runvm::fuse {

struct Inode {
  uint64_t nodeid = 0;
  UniqueFd fd;  // O_PATH | O_NOFOLLOW
  dev_t dev = 0;
  ino_t ino = 0;
  mode_t type = 0;  // st_mode & S_IFMT: an inode never changes type
  uint64_t nlookup = 0;
  // When the guest was last given an entry naming it (steady clock, ns):
  // the stats tell a revalidation inside the entry timeout from one after.
  uint64_t entry_ns = 0;
};

class InodeTable {
 public:
  static constexpr uint64_t kRootId = 1;

  // `root` is the O_PATH fd of the shared directory.
  InodeTable(UniqueFd root, const struct stat& st);

  Inode* get(uint64_t nodeid);
  const Inode& root() const { return *root_; }

  // The inode `st` describes, found or registered with `fd`, with its lookup
  // count raised by one (the reply that names it is a lookup).
  Inode& intern(UniqueFd fd, const struct stat& st);
  // Drops n lookups; the inode goes (its fd closed) when none are left.
  void forget(uint64_t nodeid, uint64_t n);
  // Drops everything but the root (FUSE DESTROY, or a new INIT).
  void clear();
  size_t size() const { return by_id_.size(); }

 private:
  using Key = std::pair<dev_t, ino_t>;
  Inode* root_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Inode>> by_id_;
  std::map<Key, uint64_t> by_key_;
  uint64_t next_id_ = kRootId + 1;
};

// Open files and directories the guest holds, by FUSE file handle.
class HandleTable {
 public:
  uint64_t add(UniqueFd fd) {
    uint64_t fh = next_++;
    fds_.emplace(fh, std::move(fd));
    return fh;
  }
  // -1 when the guest names a handle it does not hold.
  int get(uint64_t fh) const {
    auto it = fds_.find(fh);
    return it == fds_.end() ? -1 : it->second.get();
  }
  bool remove(uint64_t fh) { return fds_.erase(fh) != 0; }
  void clear() {
    fds_.clear();
    next_ = 1;  // a new session's handles, as its nodes, start anew
  }
  size_t size() const { return fds_.size(); }

 private:
  std::unordered_map<uint64_t, UniqueFd> fds_;
  uint64_t next_ = 1;
};

}  // namespace runvm::fuse
