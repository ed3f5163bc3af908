// A pod member's rootfs in its sandbox's "pod" share (issue 12): bound at
// <pod dir>/<id>, where the agent binds it from as the member's root.
// The pod dir is the guest's to write in through virtio-fs: it may rename
// <id> and leave a symlink to a host path in its place. So the bind is an
// open_tree copy attached by descriptor, sealed read-only and unmounted
// through that descriptor, and <id> is removed in the pod dir held open:
// no path string is looked up after bind(), and none names a host mount.
#pragma once

#include <string>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class MemberRoot {
 public:
  // Binds `rootfs_real` (as load_bundle resolved and checked it; opened
  // with no symlink followed) at <pod_dir>/<id>, not recursively: the
  // rootfs itself, nothing mounted below it on the host. `rootfs` names it
  // in errors. Nothing stays made or bound on failure.
  static Result<MemberRoot> bind(const std::string& pod_dir, const std::string& id,
                                 const std::string& rootfs_real, const std::string& rootfs);
  MemberRoot() = default;
  MemberRoot(MemberRoot&&) noexcept = default;
  MemberRoot& operator=(MemberRoot&& o) noexcept {
    if (this != &o) {
      release();
      pod_ = std::move(o.pod_);
      tree_ = std::move(o.tree_);
      id_ = std::move(o.id_);
      path_ = std::move(o.path_);
    }
    return *this;
  }
  ~MemberRoot() { release(); }

  bool bound() const { return static_cast<bool>(tree_); }
  // Read-only on the host too (a read-only root, once the agent made its
  // mountpoints in it): the bind itself, wherever the guest moved it.
  Status seal_readonly() const;
  // Unbinds (lazily: the guest may still hold inodes) and removes <id>
  // if it is still the empty directory bind() made. Idempotent.
  void release();
  // Only unbinds: release() removes <id> later. Idempotent.
  void unbind();

 private:
  UniqueFd pod_;   // the pod dir, held open (O_PATH)
  UniqueFd tree_;  // the bind's root (O_PATH): unmounted through it
  std::string id_;
  std::string path_;  // <pod dir>/<id>, for errors and logs only
};

}  // namespace runvm
