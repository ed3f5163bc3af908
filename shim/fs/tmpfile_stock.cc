#include "shim/fs/tmpfile_stock.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "shim/fs/fs_creds.h"

namespace runvm::fuse {

namespace {

// A nameless regular file in `dir`, made as `kind`'s caller would make it;
// -1 with errno on failure.
int make_tmpfile(int dir, const TmpfileStock::Kind& kind) {
  auto creds = ScopedFsCreds::become(kind.uid, kind.gid);
  if (!creds.ok()) {
    errno = creds.error().code;
    return -1;
  }
  return ::openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, kind.mode);
}

// The host file system has no O_TMPFILE (overlayfs before linux 6.7, ...).
bool unsupported(int err) { return err == EOPNOTSUPP || err == EISDIR || err == EINVAL; }

}  // namespace

TmpfileStock::TmpfileStock(std::function<bool()> thread_start)
    : thread_([this, start = std::move(thread_start)] {
        if (start && !start()) {
          std::lock_guard lock(mu_);
          enabled_ = false;
          idle_cv_.notify_all();
        }
        run();
      }) {}

TmpfileStock::~TmpfileStock() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

UniqueFd TmpfileStock::take(const Kind& kind, int dir) {
  std::lock_guard lock(mu_);
  if (!enabled_) return {};
  if (aim_ == kind && !files_.empty()) {
    UniqueFd f = std::move(files_.front());
    files_.pop_front();
    depth_ = std::min(kDepth, depth_ + 1);  // it pays: keep more of this kind
    cv_.notify_all();
    taken_.fetch_add(1, std::memory_order_relaxed);
    return f;
  }
  missed_.fetch_add(1, std::memory_order_relaxed);
  if (aim_ == kind) return {};  // the thread is behind: mknodat this time
  // Aim at a kind only once it missed twice in a row.
  if (last_miss_ != kind) {
    last_miss_ = kind;
    return {};
  }
  int d = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (d < 0) return {};
  drop_locked();
  aim_ = kind;
  depth_ = 1;
  dir_ = std::make_shared<const UniqueFd>(d);
  ++generation_;
  cv_.notify_all();
  return {};
}

void TmpfileStock::clear() {
  std::lock_guard lock(mu_);
  drop_locked();
  aim_.reset();
  last_miss_.reset();
  dir_.reset();
  ++generation_;
  cv_.notify_all();
}

void TmpfileStock::drop_locked() {
  dropped_.fetch_add(files_.size(), std::memory_order_relaxed);
  for (auto& f : files_) to_close_.push_back(std::move(f));
  files_.clear();
}

bool TmpfileStock::enabled() const {
  std::lock_guard lock(mu_);
  return enabled_;
}

size_t TmpfileStock::size() const {
  std::lock_guard lock(mu_);
  return files_.size();
}

void TmpfileStock::wait_idle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] {
    return !busy_ && to_close_.empty() && (!enabled_ || !aim_ || files_.size() >= depth_ || stop_);
  });
}

void TmpfileStock::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (!to_close_.empty()) {
      // Freeing an unlinked inode is file-system work too: not on the
      // device thread.
      std::vector<UniqueFd> closing;
      closing.swap(to_close_);
      busy_ = true;
      lock.unlock();
      closing.clear();
      lock.lock();
      busy_ = false;
      continue;
    }
    if (enabled_ && aim_ && files_.size() < depth_) {
      const Kind kind = *aim_;
      const auto dir = dir_;
      const uint64_t generation = generation_;
      busy_ = true;
      lock.unlock();
      UniqueFd f(make_tmpfile(dir->get(), kind));
      const int err = errno;
      lock.lock();
      busy_ = false;
      if (!f) {
        if (unsupported(err))
          enabled_ = false;
        else if (generation == generation_) {
          // e.g. EACCES, ENOSPC: the guest's own mknodat will say; aimed
          // again only after two more misses.
          aim_.reset();
          last_miss_.reset();
        }
        continue;
      }
      if (generation == generation_) {
        files_.push_back(std::move(f));
      } else {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        to_close_.push_back(std::move(f));
      }
      continue;
    }
    idle_cv_.notify_all();
    cv_.wait(lock);
  }
  idle_cv_.notify_all();
}

}  // namespace runvm::fuse
