#include "guest/agent/kernel_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "spec/base/unique_fd.h"

namespace runvm::agent {

Result<std::string> read_kernel_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return errno_error("open " + path);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read " + path);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status write_kernel_file(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return errno_error("open " + path);
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("write " + path);
  if (static_cast<size_t>(n) != value.size()) return make_error("short write to " + path);
  return {};
}

}  // namespace runvm::agent
