// Directory fds a handle-less share lists through (FsConfig::handles off):
// the guest sends no OPENDIR/RELEASEDIR there, and its READDIRs name the
// directory by nodeid with fh 0. A listing is one fd from its first READDIR
// (offset 0) to its last: on an overlayfs merged directory (a Podman rootfs)
// an offset is a position in the list that one fd built, so a fresh fd per
// READDIR would skip entries after an unlink mid-listing (rm -rf) and
// rebuild the whole list each time. Offset 0 starts a new listing (a new
// opendir or a rewinddir, which must see the directory as it is now).
// Bounded: the least recently used fd goes first; a listing whose fd went
// continues on a fresh one (what the cookie of a plain file system allows).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "spec/base/unique_fd.h"

namespace runvm::fuse {

class DirListings {
 public:
  static constexpr size_t kMaxFds = 32;

  // The fd listing `nodeid` continues on: none for offset 0 (a new listing:
  // the caller opens one and hands it to start()) or an unknown node.
  int find(uint64_t nodeid, uint64_t offset) {
    if (offset == 0) return -1;
    for (size_t i = 0; i < fds_.size(); ++i)
      if (fds_[i].first == nodeid) {
        touch(i);
        return fds_.back().second.get();
      }
    return -1;
  }
  // Keeps `fd` as the listing of `nodeid` (replacing an older one); returns it.
  int start(uint64_t nodeid, UniqueFd fd) {
    for (size_t i = 0; i < fds_.size(); ++i)
      if (fds_[i].first == nodeid) {
        fds_.erase(fds_.begin() + static_cast<ptrdiff_t>(i));
        break;
      }
    if (fds_.size() == kMaxFds) fds_.erase(fds_.begin());
    fds_.emplace_back(nodeid, std::move(fd));
    return fds_.back().second.get();
  }
  void clear() { fds_.clear(); }
  size_t size() const { return fds_.size(); }

 private:
  // Most recently used last.
  void touch(size_t i) {
    auto e = std::move(fds_[i]);
    fds_.erase(fds_.begin() + static_cast<ptrdiff_t>(i));
    fds_.push_back(std::move(e));
  }
  std::vector<std::pair<uint64_t, UniqueFd>> fds_;
};

}  // namespace runvm::fuse
