// Configuration of one virtio-fs share.
#pragma once

#include <string>

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
};

}  // namespace runvm
