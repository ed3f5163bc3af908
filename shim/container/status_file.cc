#include "shim/container/status_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>

#include "spec/base/atomic_file.h"
#include "spec/base/state_layout.h"

namespace runvm {

namespace {

bool pwrite_all(int fd, std::string_view data) {
  off_t at = 0;
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
    at += n;
  }
  return true;
}

}  // namespace

Status StatusFile::prepare() {
  if (!dir_fd_) {
    dir_fd_.reset(::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd_) return errno_error("open " + dir_);
  }
  UniqueFd spare(::openat(dir_fd_.get(), layout::kStatusSpareFile,
                          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!spare) return errno_error("create " + dir_ + "/" + layout::kStatusSpareFile);
  // Its one slot is allocated now, while there is space: later changes
  // overwrite it in place.
  if (!pwrite_all(spare.get(), std::string(kSlotSize - 1, ' ') + "\n")) {
    Error e = errno_error("write " + dir_ + "/" + layout::kStatusSpareFile);
    ::unlinkat(dir_fd_.get(), layout::kStatusSpareFile, 0);
    return e;
  }
  spare_ = std::move(spare);
  return {};
}

Status StatusFile::write(std::string_view status) {
  if (status.size() >= kSlotSize)
    return make_error("status \"" + std::string(status) + "\" does not fit its file");
  std::string slot(status);
  slot.resize(kSlotSize - 1, ' ');
  slot += '\n';
  if (exchange_ && !spare_) (void)prepare();  // on failure, the fallback below
  if (exchange_ && spare_) {
    if (!pwrite_all(spare_.get(), slot))
      return errno_error("write " + dir_ + "/" + layout::kStatusSpareFile);
    if (::renameat2(dir_fd_.get(), layout::kStatusSpareFile, dir_fd_.get(), layout::kStatusFile,
                    RENAME_EXCHANGE) == 0) {
      // The old status is the spare now; opening it needs no space. If even
      // that fails, the next change prepares a new one.
      spare_.reset(::openat(dir_fd_.get(), layout::kStatusSpareFile, O_WRONLY | O_CLOEXEC));
      return {};
    }
    if (errno == ENOENT) {
      // The first status: the spare becomes it, and a new spare is made.
      if (::renameat(dir_fd_.get(), layout::kStatusSpareFile, dir_fd_.get(), layout::kStatusFile) <
          0)
        return errno_error("write " + dir_ + "/" + layout::kStatusFile);
      spare_.reset();
      (void)prepare();
      return {};
    }
    if (errno != EINVAL && errno != ENOSYS)
      return errno_error("write " + dir_ + "/" + layout::kStatusFile);
    // A filesystem that cannot exchange names: new files from now on.
    exchange_ = false;
    spare_.reset();
    ::unlinkat(dir_fd_.get(), layout::kStatusSpareFile, 0);
  }
  return write_file_atomic(dir_ + "/" + layout::kStatusFile, slot, /*durable=*/false);
}

}  // namespace runvm
