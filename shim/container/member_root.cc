#include "shim/container/member_root.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "spec/base/log.h"
#include "spec/pinned_path.h"

namespace runvm {

namespace {

// The magic link of a mount's root names that mount wherever it was moved;
// nothing in the guest's share is looked up through it.
std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

Result<MemberRoot> MemberRoot::bind(const std::string& pod_dir, const std::string& id,
                                    const std::string& rootfs_real, const std::string& rootfs) {
  MemberRoot r;
  r.id_ = id;
  r.path_ = pod_dir + "/" + id;
  r.pod_.reset(::open(pod_dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!r.pod_) return errno_error("open " + pod_dir);
  // The rootfs as load_bundle checked it: not a symlink swapped in since.
  auto src = oci::open_no_symlinks(rootfs_real);
  if (!src.ok()) return std::move(src).error().wrap("config.json: root.path");
  if (::mkdirat(r.pod_.get(), id.c_str(), 0700) != 0) {
    Error e = errno_error("mkdir " + r.path_);
    r.pod_.reset();  // not ours: nothing to remove
    return e;
  }
  // From here release() removes <id>; it only ever rmdirs (never recursing).
  // Not a symlink the guest put in place of the directory just made.
  UniqueFd target(
      ::openat(r.pod_.get(), id.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
  if (!target) return errno_error("open " + r.path_);
  UniqueFd tree(static_cast<int>(
      ::open_tree(src->get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH)));
  if (!tree) return errno_error("bind " + rootfs + " into the pod share");
  if (::move_mount(tree.get(), "", target.get(), "",
                   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return errno_error("bind " + rootfs + " into the pod share");
  r.tree_ = std::move(tree);
  return r;
}

Status MemberRoot::seal_readonly() const {
  if (!tree_) return make_error("read-only rootfs " + path_ + ": not bound");
  if (::mount(nullptr, fd_path(tree_.get()).c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY,
              nullptr) != 0)
    return errno_error("read-only rootfs " + path_);
  return {};
}

void MemberRoot::unbind() {
  // EINVAL: no longer mounted (detached from outside).
  if (tree_ && ::umount2(fd_path(tree_.get()).c_str(), MNT_DETACH) != 0 && errno != EINVAL)
    log::warn("unmount " + path_ + ": " + strerror(errno));
  tree_.reset();
}

void MemberRoot::release() {
  unbind();
  // By name in the pod dir held open, never recursively: a symlink the
  // guest left there is not a directory (ENOTDIR), and a directory it
  // filled is not empty; either stays, for `runvm delete`.
  if (pod_) ::unlinkat(pod_.get(), id_.c_str(), AT_REMOVEDIR);
  pod_.reset();
}

}  // namespace runvm
