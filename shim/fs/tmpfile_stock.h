// Regular files made ahead of time, off the guest's critical path: a thread
// keeps a few nameless inodes (O_TMPFILE) of the directory, owner and mode
// the guest last created files with, and a MKNOD of the same kind becomes a
// linkat(2) of one of them (~30 µs) instead of the host file system's inode
// allocation (ext4: 0.4-2.5 ms on a loaded host, the bulk of the backend's
// time in an untar or a copy of a tree).
//
// A stocked file is made exactly as mknodat(2) would make it: in the same
// directory (so a set-group-ID directory's group and a default ACL are
// inherited alike), under the same fsuid/fsgid, with the same mode (and the
// same host umask); the link is made under the caller's credentials, so the
// directory's permissions are checked at the request as before. Only its
// times differ, which the taker sets to now after linking it.
//
// The stock follows one kind at a time: it is aimed at a kind after two
// MKNODs of it in a row missed, and holds one file of a new aim, one more
// after each hit (up to kDepth), so a workload alternating between
// directories (npm's parallel extraction) makes and drops few files in vain.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "spec/base/unique_fd.h"

namespace runvm::fuse {

class TmpfileStock {
 public:
  // What a created file depends on.
  struct Kind {
    uint64_t dir = 0;  // the directory's nodeid
    uid_t uid = 0;
    gid_t gid = 0;
    mode_t mode = 0;  // permission bits (07777), as the guest asked
    bool operator==(const Kind&) const = default;
  };
  static constexpr size_t kDepth = 4;

  // Its thread runs `thread_start` first (FsConfig::thread_start; false:
  // it makes nothing, as if the file system refused O_TMPFILE).
  explicit TmpfileStock(std::function<bool()> thread_start = {});
  ~TmpfileStock();  // stops the thread; stocked files vanish with their fds
  TmpfileStock(const TmpfileStock&) = delete;
  TmpfileStock& operator=(const TmpfileStock&) = delete;

  // A stocked file (O_RDWR, no name) of `kind`, or none; `dir` is the
  // directory's fd (O_PATH is fine), duplicated if the stock is aimed at it.
  UniqueFd take(const Kind& kind, int dir);
  // Drops the stock and its aim (a new FUSE session: nodeids start over).
  void clear();
  // False once the host file system refused O_TMPFILE: no more attempts.
  bool enabled() const;
  // Files in stock now (tests).
  size_t size() const;
  // take()s that got a file, and that got none (bench/fs.sh's hit rate).
  uint64_t taken() const { return taken_.load(std::memory_order_relaxed); }
  uint64_t missed() const { return missed_.load(std::memory_order_relaxed); }
  // Files made and then dropped unused (a new aim, clear()).
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Blocks until the stock holds what its aim calls for, or can get no
  // fuller (tests).
  void wait_idle();

 private:
  void run();
  // Moves the stock to `to_close_` (the thread frees those inodes).
  void drop_locked();

  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  bool stop_ = false, enabled_ = true, busy_ = false;
  std::optional<Kind> aim_, last_miss_;
  std::shared_ptr<const UniqueFd> dir_;
  uint64_t generation_ = 0;
  std::deque<UniqueFd> files_;
  std::vector<UniqueFd> to_close_;
  std::atomic<uint64_t> taken_{0}, missed_{0}, dropped_{0};
  size_t depth_ = 1;  // files to hold for the current aim: 1 + its hits, up to kDepth
  std::thread thread_;
};

}  // namespace runvm::fuse
