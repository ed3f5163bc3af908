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
  bool ok = write_all(fd.get(), data) && (!durable || ::fsync(fd.get()) == 0);
  int err = errno;
  ok = ::close(fd.release()) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) < 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return errno_error("write " + path, err ? err : EIO);
  }
  return {};
}

}  // namespace runvm
