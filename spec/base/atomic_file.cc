#include "spec/base/atomic_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>

#include "spec/base/unique_fd.h"

namespace runvm {

namespace {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

Status write_file_atomic(const std::string& path, std::string_view data, bool durable) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return errno_error("write " + tmp);
  int err = 0;  // the first failure's errno
  if (!write_all(fd.get(), data) || (durable && ::fsync(fd.get()) < 0)) err = errno ? errno : EIO;
  if (::close(fd.release()) < 0 && !err) err = errno;
  if (!err && ::rename(tmp.c_str(), path.c_str()) < 0) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    return errno_error("write " + path, err);
  }
  return {};
}

}  // namespace runvm
