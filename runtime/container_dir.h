// A container's state directory under --root and its lock. The names in it
// are spec/base/state_layout.h's: <root>/<id>/ holds state.json, status, lock,
// config.json and the VM's logs. Sockets live apart, in <root>/@s/<hash of
// id>/ (shim.sock, the vhost-user and hybrid vsock sockets): a
// 64-character id under a root like containerd's /run/containerd/runc/k8s.io
// would overflow sun_path's 108 bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "spec/base/result.h"
#include "spec/base/state_layout.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {

// The mountpoints in our mount namespace that start with `prefix`.
std::vector<std::string> mounts_below(const std::string& prefix);

// A mount as /proc/self/mountinfo lists it.
struct MountEntry {
  uint64_t id = 0;    // its mount id (statx's stx_mnt_id)
  std::string point;  // where it is mounted, as listed
};
std::vector<MountEntry> mount_entries_below(const std::string& prefix);

// Detaches the mounts `entries` (listed below `dir`/, as
// mount_entries_below read them; deepest first, and stacked ones top
// first) without a path lookup that a guest could redirect: the
// directories below `dir` may be a guest's to rename, or to replace with
// symlinks to host paths, at any time (a pod share), and umount2 would
// follow them. Each is reached from `dir` (opened without following a
// symlink) with no symlink followed and no step outside it (openat2), and
// unmounted through that descriptor only when it is the very mount listed
// (its mount id), as shim/container/member_root.h unmounts. One that is no
// longer reachable so stays mounted: the error names it.
Status unmount_entries(const std::string& dir, std::vector<MountEntry> entries);
// unmount_entries(dir, mount_entries_below(dir + "/")).
Status unmount_below(const std::string& dir);
// Whether pod member `id`'s rootfs, or one of its binds, is still mounted in
// `pod_dir` (a pod share's host dir, as the shim binds them there).
bool member_bound(const std::string& pod_dir, const std::string& id);

// runc's rule: letters, digits, '_', '+', '-', '.'; not "." or "..".
Status validate_id(const std::string& id);

class ContainerDir {
 public:
  ContainerDir(const std::string& root, const std::string& id) : root_(root), id_(id) {}

  const std::string& id() const { return id_; }
  std::string path() const { return root_ + "/" + id_; }
  std::string file(const char* name) const { return path() + "/" + name; }
  std::string socket_dir() const;
  std::string socket(const char* name) const { return socket_dir() + "/" + name; }
  bool exists() const;

  // Creates both directories and returns the container's lock, taken before
  // any other caller can see the id: `create` holds it until the state it
  // writes is final, so a concurrent delete waits instead of removing a
  // half-made container. Fails with runc's message if the id is taken, or
  // if the root is too long for socket paths.
  Result<UniqueFd> create();
  // Takes the container's lock (blocking); released with the returned fd.
  // Fails with ENOENT if the container does not exist or was removed while
  // we waited (a failed create removes its directory under the lock).
  Result<UniqueFd> lock() const;
  // True while another caller holds the lock: `state` reads "creating" as
  // live only then; a creator that died took its lock with it.
  bool locked_by_other() const;
  // Removes both directories and everything in them.
  Status remove() const;

 private:
  std::string root_, id_;
};

}  // namespace runvm::cli
