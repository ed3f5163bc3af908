#include "shim/fs/xattr_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace runvm::fuse {

namespace {

struct DirClose {
  void operator()(DIR* d) const { ::closedir(d); }
};
using Dir = std::unique_ptr<DIR, DirClose>;

// What one entry's xattrs say.
enum class Found { kNone, kNeeded, kUnknown };

Found entry_xattrs(int dir, const char* name, std::vector<char>& buf) {
  // The magic link leads to `dir` itself; `name` is one component and, as
  // llistxattr says, not followed if it is a symlink.
  const std::string path = "/proc/self/fd/" + std::to_string(dir) + "/" + name;
  ssize_t r = ::llistxattr(path.c_str(), buf.data(), buf.size());
  if (r < 0) {
    // Gone since it was listed, or a file system without xattrs: none.
    if (errno == ENOENT || errno == ENOTSUP) return Found::kNone;
    return Found::kUnknown;  // ERANGE cannot be (the buffer holds the maximum)
  }
  return XattrScan::any_needed({buf.data(), static_cast<size_t>(r)}) ? Found::kNeeded
                                                                     : Found::kNone;
}

}  // namespace

XattrScan::XattrScan(int root, std::function<bool()> thread_start)
    : root_(::fcntl(root, F_DUPFD_CLOEXEC, 0)) {
  thread_ = std::thread([this, start = std::move(thread_start)] {
    const bool started = !start || start();
    State s = started && root_ ? walk(root_.get()) : State::kPresent;
    move(State::kScanning, s);
  });
}

XattrScan::~XattrScan() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
}

void XattrScan::wait() {
  if (thread_.joinable()) thread_.join();
}

bool XattrScan::move(State from, State to) {
  return state_.compare_exchange_strong(from, to, std::memory_order_acq_rel);
}

bool XattrScan::answer_enosys(bool change) {
  if (change) {
    // The guest sets or removes one: from now on the tree may hold xattrs.
    if (move(State::kScanning, State::kPresent) || move(State::kAbsent, State::kPresent))
      return false;
    return state() == State::kOff;
  }
  return move(State::kAbsent, State::kOff) || state() == State::kOff;
}

void XattrScan::tree_moved() { move(State::kScanning, State::kPresent); }

bool XattrScan::needed(std::string_view name) {
  constexpr std::string_view kSecurity = "security.";
  if (name.substr(0, kSecurity.size()) != kSecurity) return true;
  return name == "security.capability";
}

bool XattrScan::any_needed(std::string_view list) {
  while (!list.empty()) {
    size_t end = list.find('\0');
    if (end == std::string_view::npos) end = list.size();
    if (end > 0 && needed(list.substr(0, end))) return true;
    list.remove_prefix(std::min(end + 1, list.size()));
  }
  return false;
}

XattrScan::State XattrScan::walk(int root) {
  struct stat root_st;
  if (::fstat(root, &root_st) != 0) return State::kPresent;
  std::vector<char> buf(XATTR_LIST_MAX);
  // The root itself, as "." of its fd.
  if (entry_xattrs(root, ".", buf) != Found::kNone) return State::kPresent;
  std::vector<Dir> stack;
  auto open_dir = [&](int at, const char* name) -> Dir {
    int fd = ::openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return nullptr;
    struct stat st;
    // Another file system mounted inside: not walked, so not proven.
    if (::fstat(fd, &st) != 0 || st.st_dev != root_st.st_dev) {
      ::close(fd);
      errno = EXDEV;
      return nullptr;
    }
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      errno = ENOMEM;
    }
    return Dir(d);
  };
  Dir top = open_dir(root, ".");
  if (!top) return State::kPresent;
  stack.push_back(std::move(top));
  size_t entries = 0;
  while (!stack.empty()) {
    if (stop_.load(std::memory_order_relaxed) || state() != State::kScanning)
      return State::kPresent;
    DIR* d = stack.back().get();
    errno = 0;
    dirent* e = ::readdir(d);
    if (!e) {
      if (errno != 0) return State::kPresent;
      stack.pop_back();
      continue;
    }
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (++entries > kMaxEntries) return State::kPresent;
    const int dfd = ::dirfd(d);
    switch (entry_xattrs(dfd, e->d_name, buf)) {
      case Found::kNone:
        break;
      case Found::kNeeded:
      case Found::kUnknown:
        return State::kPresent;
    }
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        return State::kPresent;
      }
      is_dir = S_ISDIR(st.st_mode);
    }
    if (!is_dir) continue;
    if (stack.size() >= kMaxDepth) return State::kPresent;
    Dir sub = open_dir(dfd, e->d_name);
    if (!sub) {
      if (errno == ENOENT) continue;  // removed since it was listed
      return State::kPresent;
    }
    stack.push_back(std::move(sub));
  }
  return State::kAbsent;
}

}  // namespace runvm::fuse
