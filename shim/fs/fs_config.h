// Configuration of one virtio-fs share.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "spec/base/unique_fd.h"

namespace runvm {

enum class CachePolicy {
  // The directory belongs to this guest alone (a container's bundle rootfs):
  // long entry/attr timeouts, cached misses, page cache kept across opens.
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
  // Whether a LOOKUP miss is answered as a negative entry the guest caches
  // (exclusive: a day; coherent: kCoherentTimeout, the bound it already has
  // on a name removed on the host) instead of ENOENT, which it must ask
  // again. Off where the host creates names and at once has the guest use
  // them (the pod share: a member's root and binds): then only the misses in
  // the share's root and in its subdirectory `fresh_names_dir` (if not
  // empty) are ENOENT, and those deeper down (inside a member's root: a PATH
  // search's missing /usr) are cached as on any coherent share.
  bool cache_misses = true;
  std::string fresh_names_dir;
  // Extended attributes. Off (as virtiofsd's default): every xattr request
  // is answered ENOSYS, after which the guest stops sending each kind
  // (fc->no_getxattr etc.), above all the GETXATTR security.capability it
  // otherwise asks before each write and chown of a file: ~2 round trips
  // per file written. Its getxattr/setxattr then fail with EOPNOTSUPP.
  // On for a container's root, where file capabilities (ping's
  // cap_net_raw) and image xattrs must work.
  bool xattrs = true;
  // With xattrs: serve them only if the tree holds any the guest could need
  // (fuse::XattrScan walks it from the share's creation; until the walk has
  // proven there are none, they are served). Without any, the first xattr
  // read after the walk is answered ENOSYS and the guest stops asking, as
  // with xattrs off: a container root whose image has no file capability,
  // ACL or user.* attribute then costs no GETXATTR per file written. Such a
  // root cannot take xattrs later either (setxattr fails EOPNOTSUPP), as a
  // share without xattrs; one the guest sets before the walk ends keeps them.
  bool xattrs_if_present = false;
  // Exclusive shares only: FUSE_WRITEBACK_CACHE. Off by default: the guest
  // then writes every close()d file back synchronously (fuse_flush) plus a
  // SETATTR of its times, and throttles its writers hard (a FUSE bdi may
  // hold 1% of the dirty pages), so it costs a round trip per file written
  // and made the untar of 5,000 small files >10x slower; writes through
  // are no slower for the large sequential ones either (max_write 1 MiB).
  bool writeback = false;
  // Set: shared_dir as it was opened (O_PATH) where it was checked, served
  // instead of opening shared_dir again, which could follow a symlink
  // swapped in since (issue 15, docs/faults.md "Hostile bundles").
  std::shared_ptr<const UniqueFd> dir_fd;
  // Open-file handles. Off by default: OPEN and CREATE are answered ENOSYS,
  // after which the guest stops sending OPEN (fc->no_open) and so also its
  // RELEASE, a synchronous round trip on virtio-fs (fc->destroy: close(2)
  // waits for it), and creates files by MKNOD (one round trip where CREATE
  // took two with its RELEASE). Every READ, WRITE, FSYNC... then names the
  // node with fh 0 and is served by an fd reopened from its O_PATH inode for
  // that request. OPENDIR is ENOSYS too (no RELEASEDIR either): a directory
  // is listed through one fd per listing (fuse::DirListings: overlayfs
  // offsets are positions in what one fd listed). Without OPEN the guest
  // keeps a file's pages and a directory's listing across opens
  // (FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR, its no-open default). On a coherent
  // share that stays within its bound: it asks for FUSE_AUTO_INVAL_DATA, so
  // every read (and every listing from its start) first refreshes attributes
  // older than the 1 s attribute timeout and drops pages and listings whose
  // mtime or size changed on the host. On, a coherent share's OPEN drops the
  // guest's cache of the file at every open instead (close-to-open).
  bool handles = false;
  // Regular files made ahead of time on a thread (fuse::TmpfileStock), so a
  // guest's MKNOD or CREATE links one instead of waiting for the host file
  // system's inode allocation. Read-only shares make none. Off: measured
  // (bench/fs.sh, bench/npm.sh with their *_precreate variants) it only paid
  // while the host was so loaded that an inode took milliseconds to make; on
  // a quiet host mknod costs ~90 us and the copy of a tree got slower, and
  // npm ci, which creates across many directories at once, hit 4%.
  bool precreate = false;
  // Run first on each helper thread the share starts (XattrScan's walk,
  // TmpfileStock's maker), which the creating thread (the shim's main
  // thread, during set-up) may not confine: runvm-shim confines them to the
  // device role (shim/confine). False: the helper does nothing (xattrs are
  // served, no file is made ahead of time).
  std::function<bool()> thread_start;
};

}  // namespace runvm
