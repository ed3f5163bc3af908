// Configuration of one virtio-fs share.
#pragma once

#include <string>
#include <vector>

namespace runvm {

enum class CachePolicy {
  // The directory belongs to this guest alone (a container's bundle rootfs):
  // long entry/attr timeouts, page cache kept across opens, writeback cache.
  kExclusive,
  // The host may change the directory behind the guest's back (bind mounts):
  // short timeouts, page cache dropped on open, no writeback.
  kCoherent,
};

struct FsConfig {
  std::string shared_dir;  // must exist and be a directory
  CachePolicy cache = CachePolicy::kCoherent;
  bool readonly = false;  // every mutation fails with EROFS
  // Not empty: only these names of shared_dir are reachable (a bind mount's
  // file or directory shared through its parent, so the guest sees its
  // name); shared_dir itself cannot be changed (EACCES).
  std::vector<std::string> visible;
};

}  // namespace runvm
