// Whether a share's tree holds any extended attribute the guest could need,
// found by a walk of the tree on a thread of its own.
//
// Why: while a share serves xattrs, the guest kernel (linux 6.1 fs/fuse)
// asks GETXATTR security.capability before the first write to each inode
// (file_remove_privs) and before every chown (notify_change's
// ATTR_KILL_PRIV): about two round trips per file written. Nothing but an
// ENOSYS reply stops it (fc->no_getxattr), and that is for the whole
// connection. So a rootfs whose tree holds no xattr at all answers ENOSYS
// once the walk has proven that; one that holds any (a file capability, an
// ACL, a user.* attribute) keeps serving them.
//
// The walk is conservative: whatever it cannot prove (an unreadable
// directory, another file system mounted inside, too many entries or levels,
// a rename by the guest while it ran) counts as "present".
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <string_view>
#include <thread>

#include "spec/base/unique_fd.h"

namespace runvm::fuse {

class XattrScan {
 public:
  enum class State {
    kScanning,  // the walk is running: serve xattrs
    kPresent,   // found one (or could not prove there is none): serve xattrs
    kAbsent,    // none: the next xattr request may switch them off
    kOff,       // switched off: every xattr request is answered ENOSYS
  };
  // Bounds of the walk; past either it gives up ("present").
  static constexpr size_t kMaxEntries = 1'000'000;
  static constexpr size_t kMaxDepth = 128;

  // Walks the tree under `root` (any fd of the directory, O_PATH is fine;
  // it is duplicated) on a new thread, which runs `thread_start` first
  // (FsConfig::thread_start; false: no walk, "present").
  explicit XattrScan(int root, std::function<bool()> thread_start = {});
  ~XattrScan();  // stops the walk and joins it
  XattrScan(const XattrScan&) = delete;
  XattrScan& operator=(const XattrScan&) = delete;

  State state() const { return state_.load(std::memory_order_acquire); }
  // Blocks until the walk has ended (tests).
  void wait();

  // An xattr request of the guest arrives: whether it must be answered
  // ENOSYS. A read (GETXATTR, LISTXATTR) switches xattrs off if the walk
  // found none; a change (SETXATTR, REMOVEXATTR) keeps them on for good,
  // unless they are already off (the guest could not read it back).
  bool answer_enosys(bool change);
  // The guest moved or linked a name (RENAME, LINK): an entry may have gone
  // from where the walk had yet to look to where it had looked, so a walk
  // still running can no longer prove anything.
  void tree_moved();

  // Whether an xattr name is one the guest could need. LSM labels other
  // than file capabilities (security.selinux of the host's policy,
  // security.ima...) mean nothing to the guest, which runs no LSM.
  static bool needed(std::string_view name);
  // Whether a listxattr(2) result names any needed attribute.
  static bool any_needed(std::string_view list);

 private:
  State walk(int root);
  // Moves kScanning (or kAbsent, for a change) to `to`; false if it was not.
  bool move(State from, State to);

  std::atomic<State> state_{State::kScanning};
  std::atomic<bool> stop_{false};
  UniqueFd root_;
  std::thread thread_;
};

}  // namespace runvm::fuse
