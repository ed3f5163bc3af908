#include "spec/pinned_path.h"

#include <fcntl.h>
#include <sys/stat.h>

namespace runvm::oci {

Result<UniqueFd> open_no_symlinks(const std::string& canonical) {
  if (canonical.empty() || canonical.front() != '/')
    return make_error(canonical + ": not an absolute path", EINVAL);
  UniqueFd fd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return errno_error("/");
  size_t pos = 1;
  while (pos < canonical.size()) {
    size_t end = canonical.find('/', pos);
    if (end == std::string::npos) end = canonical.size();
    std::string name = canonical.substr(pos, end - pos);
    std::string prefix = canonical.substr(0, end);
    pos = end + 1;
    if (name.empty()) continue;
    // A canonical path has none; they would undo the walk's pinning.
    if (name == "." || name == "..") return make_error(canonical + ": not canonical", EINVAL);
    UniqueFd next(::openat(fd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return errno_error(prefix);
    struct stat st;
    if (::fstat(next.get(), &st) != 0) return errno_error(prefix);
    if (S_ISLNK(st.st_mode))
      return make_error(prefix + " is a symlink: changed since it was resolved", ELOOP);
    fd = std::move(next);
  }
  return fd;
}

}  // namespace runvm::oci
