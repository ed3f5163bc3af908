#include "shim/fs/inode_table.h"

namespace runvm::fuse {

InodeTable::InodeTable(UniqueFd root, const struct stat& st) {
  auto inode = std::make_unique<Inode>();
  inode->nodeid = kRootId;
  inode->fd = std::move(root);
  inode->dev = st.st_dev;
  inode->ino = st.st_ino;
  inode->type = st.st_mode & S_IFMT;
  inode->nlookup = 1;
  root_ = inode.get();
  by_key_[{st.st_dev, st.st_ino}] = kRootId;
  by_id_.emplace(kRootId, std::move(inode));
}

Inode* InodeTable::get(uint64_t nodeid) {
  auto it = by_id_.find(nodeid);
  return it == by_id_.end() ? nullptr : it->second.get();
}

Inode& InodeTable::intern(UniqueFd fd, const struct stat& st) {
  Key key{st.st_dev, st.st_ino};
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    Inode& existing = *by_id_.at(it->second);
    ++existing.nlookup;
    return existing;  // `fd` (a second handle on the same inode) closes here
  }
  auto inode = std::make_unique<Inode>();
  inode->nodeid = next_id_++;
  inode->fd = std::move(fd);
  inode->dev = st.st_dev;
  inode->ino = st.st_ino;
  inode->type = st.st_mode & S_IFMT;
  inode->nlookup = 1;
  Inode& ref = *inode;
  by_key_[key] = ref.nodeid;
  by_id_.emplace(ref.nodeid, std::move(inode));
  return ref;
}

void InodeTable::forget(uint64_t nodeid, uint64_t n) {
  if (nodeid == kRootId) return;
  auto it = by_id_.find(nodeid);
  if (it == by_id_.end()) return;
  Inode& inode = *it->second;
  inode.nlookup = n >= inode.nlookup ? 0 : inode.nlookup - n;
  if (inode.nlookup) return;
  by_key_.erase({inode.dev, inode.ino});
  by_id_.erase(it);
}

void InodeTable::clear() {
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (it->first == kRootId) {
      ++it;
      continue;
    }
    by_key_.erase({it->second->dev, it->second->ino});
    it = by_id_.erase(it);
  }
  // A new session numbers its nodes anew: the kernel forgot every one.
  next_id_ = kRootId + 1;
}

}  // namespace runvm::fuse
