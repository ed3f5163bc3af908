// A pod member's bind mounts, through its sandbox's "pod" share (issue 12):
// a running virtio-mmio VM gets no new device, so each bind source is bound
// on the host at <pod dir>/@binds/<id>/<n>/<name> ('@' is in no container
// id) and the agent clones it out of the share by that path, as it does for
// a container's own bind shares (bind_shares.h). Read-only binds are
// read-only on the host too; the share never resolves outside its
// directory. Everything bound is unbound when the object goes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "guest/protocol/linux_spec.h"
#include "spec/base/result.h"
#include "spec/base/state_layout.h"
#include "spec/base/unique_fd.h"
#include "spec/config.h"

namespace runvm {

using layout::kPodBindsDir;

class MemberBinds {
 public:
  // Binds the bind sources among `mounts`; `out` gets every mount as the
  // agent takes it (binds naming `share_tag`). Errors name
  // "mounts[i].source"; nothing stays bound on failure.
  static Result<MemberBinds> bind(const std::string& pod_dir, const std::string& id,
                                  const std::string& share_tag,
                                  const std::vector<oci::Mount>& mounts,
                                  std::vector<proto::Mount>& out);
  MemberBinds() = default;
  MemberBinds(MemberBinds&& o) noexcept : made_(std::move(o.made_)), mounts_(std::move(o.mounts_)) {
    o.made_.clear();
    o.mounts_.clear();
  }
  MemberBinds& operator=(MemberBinds&& o) noexcept {
    if (this != &o) {
      release();
      made_ = std::move(o.made_);
      mounts_ = std::move(o.mounts_);
      o.made_.clear();
      o.mounts_.clear();
    }
    return *this;
  }
  ~MemberBinds() { release(); }

  // Unbinds everything (lazily: the guest may still hold inodes) and
  // removes what bind() made. Idempotent. By descriptor only: the guest
  // may rename anything in the pod dir, or put a symlink to a host path
  // where a slot was, and a path string would then name the host's file.
  void release();
  // Only unbinds: release() removes what bind() made later. Idempotent.
  void unbind();

 private:
  // An entry bind() made: `name` in the directory `parent` (held open, so
  // a rename of it by the guest changes nothing).
  struct Made {
    std::shared_ptr<const UniqueFd> parent;
    std::string name;
    bool dir;
  };
  // mkdir `name` in `parent` (recorded in made_; `path` names it in
  // errors), opened.
  Result<UniqueFd> make_dir(const std::shared_ptr<const UniqueFd>& parent, const std::string& name,
                            const std::string& path);

  // What bind() made, in order: <pod dir>/@binds/<id> first, then slots and
  // placeholders (removed in reverse, never recursively).
  std::vector<Made> made_;
  // The root of each bind mount made, opened (O_PATH) once checked to be
  // the source's: unmounted through it, whatever the guest renamed.
  std::vector<UniqueFd> mounts_;
};

}  // namespace runvm
