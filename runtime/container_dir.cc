#include "runtime/container_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <filesystem>

namespace runvm::cli {

Status validate_id(const std::string& id) {
  if (id.empty()) return make_error("container id cannot be empty");
  if (id == "." || id == ".." || id.size() > 1024) return make_error("invalid container id: " + id);
  for (char c : id) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' || c == '.'))
      return make_error("invalid container id format: " + id);
  }
  return {};
}

bool ContainerDir::exists() const {
  struct stat st;
  return stat(path().c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status ContainerDir::create() {
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) return make_error("--root " + root_ + ": " + ec.message(), ec.value());
  if (mkdir(path().c_str(), 0711) < 0) {
    if (errno == EEXIST) return make_error("container with given ID already exists", EEXIST);
    return errno_error("mkdir " + path());
  }
  return {};
}

Result<UniqueFd> ContainerDir::lock() const {
  UniqueFd fd(open(file("lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) {
    if (errno == ENOENT) return make_error("container does not exist: " + id_, ENOENT);
    return errno_error("lock " + id_);
  }
  while (flock(fd.get(), LOCK_EX) < 0) {
    if (errno != EINTR) return errno_error("flock " + id_);
  }
  return fd;
}

Status ContainerDir::remove() const {
  std::error_code ec;
  std::filesystem::remove_all(path(), ec);
  if (ec) return make_error("remove " + path() + ": " + ec.message(), ec.value());
  return {};
}

}  // namespace runvm::cli
