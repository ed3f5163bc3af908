// Runs a file-creating syscall as the guest's caller, so the new inode is
// owned by the request's uid/gid and set-group-ID directories behave as on
// any filesystem. Only this thread changes: setfsuid/setfsgid are per-thread
// syscalls (called directly, not through set*id wrappers that broadcast to
// every thread). Permission checks already happened in the guest (virtio-fs
// mounts with default_permissions), so the filesystem capabilities the kernel
// drops when fsuid leaves 0 are raised again for the duration.
#pragma once

#include <sys/types.h>

#include "spec/base/result.h"

namespace runvm::fuse {

class ScopedFsCreds {
 public:
  // Error if the ids cannot be assumed (e.g. uid or gid is -1).
  static Result<ScopedFsCreds> become(uid_t uid, gid_t gid);
  ScopedFsCreds(ScopedFsCreds&& o) noexcept : active_(o.active_) { o.active_ = false; }
  ScopedFsCreds& operator=(ScopedFsCreds&&) = delete;
  ~ScopedFsCreds();

 private:
  ScopedFsCreds() = default;
  bool active_ = false;
};

}  // namespace runvm::fuse
