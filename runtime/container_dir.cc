#include "runtime/container_dir.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "spec/base/unix_socket.h"
#include "spec/pinned_path.h"

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

namespace {

// Longest socket name the shim and `runvm exec` create, with its '/', so
// every path is checked once, here.
constexpr size_t kLongestSocketName = 1 + layout::kLongestSocketName;

// FNV-1a: stable across builds and processes (the shim and later verbs
// must agree), and 64 bits make a collision between live ids negligible; a
// collision would still only fail create, on mkdir.
std::string short_hash(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

std::string ContainerDir::socket_dir() const {
  return root_ + "/" + layout::kSocketsDir + "/" + short_hash(id_);
}

bool ContainerDir::exists() const {
  struct stat st;
  return stat(path().c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<UniqueFd> ContainerDir::create() {
  size_t limit = kUnixPathMax;
  if (size_t extra = socket_dir().size() - root_.size();
      root_.size() + extra + kLongestSocketName > limit)
    return make_error("--root " + root_ + ": too long for unix socket paths (at most " +
                      std::to_string(limit - extra - kLongestSocketName) + " bytes)");
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) return make_error("--root " + root_ + ": " + ec.message(), ec.value());
  if (mkdir(path().c_str(), 0711) < 0) {
    if (errno == EEXIST) return make_error("container with given ID already exists", EEXIST);
    return errno_error("mkdir " + path());
  }
  // Locked before state.json exists: every other verb finds the container
  // only through state.json, so none can see it unlocked before it is made.
  UniqueFd lock_fd(
      open(file(layout::kLockFile).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!lock_fd || flock(lock_fd.get(), LOCK_EX) < 0) {
    auto e = errno_error("lock " + file(layout::kLockFile));
    (void)remove();
    return e;
  }
  // The id is ours now, so a socket dir left by a crashed namesake is stale.
  std::filesystem::remove_all(socket_dir(), ec);
  // `delete` of another container may rmdir an empty <root>/@s between our
  // two mkdirs; then make it again.
  // Many deletes at once can do it again between our retries: a bounded
  // number of them, each needing @s empty at that instant.
  int err = 0;
  for (int attempt = 0; attempt < 50; ++attempt) {
    err = 0;
    if (mkdir((root_ + "/" + layout::kSocketsDir).c_str(), 0711) < 0 && errno != EEXIST)
      err = errno;
    if (!err && mkdir(socket_dir().c_str(), 0700) < 0) err = errno;
    if (err != ENOENT) break;
  }
  if (err) {
    (void)remove();
    return make_error("mkdir " + socket_dir() + ": " + strerror(err), err);
  }
  return lock_fd;
}

Result<UniqueFd> ContainerDir::lock() const {
  // Never O_CREAT: a lock file made in a directory that a delete is
  // removing would leave it non-empty. create() makes it; only a container
  // from a runvm that did not (its state.json there, no lock) gets one here.
  UniqueFd fd(open(file(layout::kLockFile).c_str(), O_RDWR | O_CLOEXEC));
  if (!fd && errno == ENOENT && access(file(layout::kStateFile).c_str(), F_OK) == 0)
    fd = UniqueFd(open(file(layout::kLockFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return make_error("container does not exist", ENOENT);
    return errno_error("lock " + id_);
  }
  while (flock(fd.get(), LOCK_EX) < 0) {
    if (errno != EINTR) return errno_error("flock " + id_);
  }
  // Removed while we waited (a failed create, a delete before us): the
  // lock we hold is of a container that is gone.
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return errno_error("lock " + id_);
  if (st.st_nlink == 0) return make_error("container does not exist", ENOENT);
  return fd;
}

bool ContainerDir::locked_by_other() const {
  UniqueFd fd(open(file(layout::kLockFile).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  // A shared lock is refused only while someone holds it exclusively; ours
  // goes with the fd.
  return flock(fd.get(), LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

namespace {

// Mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = field[i + k];
        ok = ok && c >= '0' && c <= '7';
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

}  // namespace

bool member_bound(const std::string& pod_dir, const std::string& id) {
  std::string pod = pod_dir + "/";
  std::string rootfs = pod + id, binds = pod + layout::kPodBindsDir + "/" + id + "/";
  for (const auto& p : mounts_below(pod))
    if (p == rootfs || p.rfind(binds, 0) == 0) return true;
  return false;
}

std::vector<MountEntry> mount_entries_below(const std::string& prefix) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<MountEntry> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    uint64_t id = 0;
    std::string parent, dev, root, point;
    if (!(fields >> id >> parent >> dev >> root >> point)) continue;
    point = unescape_mountinfo(point);
    if (point.compare(0, prefix.size(), prefix) == 0) out.push_back({id, point});
  }
  return out;
}

std::vector<std::string> mounts_below(const std::string& prefix) {
  std::vector<std::string> points;
  for (auto& m : mount_entries_below(prefix)) points.push_back(std::move(m.point));
  return points;
}

namespace {

// Detaches `m` (below `base`/, held open as `base_fd`), reached without a
// symlink and only if it is that very mount.
Status unmount_entry(int base_fd, const std::string& base, const MountEntry& m) {
  std::string rel = m.point.substr(base.size() + 1);
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(syscall(SYS_openat2, base_fd, rel.c_str(), &how, sizeof how)));
  if (!fd) return errno_error("unmount " + m.point + ": not reachable without a symlink");
  struct statx stx {};
  if (statx(fd.get(), "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) != 0)
    return errno_error("unmount " + m.point);
  if (!(stx.stx_mask & STATX_MNT_ID) || stx.stx_mnt_id != m.id)
    return make_error("unmount " + m.point + ": another mount is there now");
  std::string self = "/proc/self/fd/" + std::to_string(fd.get());
  if (umount2(self.c_str(), MNT_DETACH) != 0 && errno != EINVAL)
    return errno_error("unmount " + m.point);
  return {};
}

}  // namespace

Status unmount_entries(const std::string& dir, std::vector<MountEntry> entries) {
  std::erase_if(entries, [&](const MountEntry& m) {
    return m.point.size() <= dir.size() + 1 || m.point.compare(0, dir.size() + 1, dir + "/") != 0;
  });
  if (entries.empty()) return {};
  auto base = RUNVM_TRY(oci::open_no_symlinks(dir));
  // Deepest first; at one point, the latest (the top of a stack) first.
  std::sort(entries.begin(), entries.end(), [](const MountEntry& a, const MountEntry& b) {
    return a.point.size() != b.point.size() ? a.point.size() > b.point.size() : a.id > b.id;
  });
  // One hidden under another (mounted over its parent) is reached once
  // that one is gone, or goes with the mount it is on: again while a round
  // detached any, for those still mounted.
  Status result;
  while (!entries.empty()) {
    std::vector<MountEntry> left;
    result = {};
    for (const auto& m : entries) {
      Status s = unmount_entry(base.get(), dir, m);
      if (s.ok()) continue;
      if (result.ok()) result = std::move(s);
      left.push_back(m);
    }
    if (left.size() == entries.size()) break;
    auto now = mount_entries_below(dir + "/");
    std::erase_if(left, [&](const MountEntry& m) {
      return std::none_of(now.begin(), now.end(),
                          [&](const MountEntry& n) { return n.id == m.id && n.point == m.point; });
    });
    if (left.empty()) result = {};
    entries = std::move(left);
  }
  return result;
}

Status unmount_below(const std::string& dir) {
  return unmount_entries(dir, mount_entries_below(dir + "/"));
}

Status ContainerDir::remove() const {
  std::error_code ec;
  std::filesystem::remove_all(socket_dir(), ec);
  if (ec) return make_error("remove " + socket_dir() + ": " + ec.message(), ec.value());
  rmdir((root_ + "/" + layout::kSocketsDir).c_str());  // only when empty; keeps the root as it was
  // A pod sandbox's share holds its members' rootfs and bind sources, bound
  // by its shim, which unbinds them as they end; a shim killed first leaves
  // them. remove_all would descend into the members' own files: unmount
  // first, and remove nothing if one stays mounted.
  RUNVM_CHECK(unmount_below(path() + "/" + layout::kPodDir));
  // remove_all crosses mount points: nothing is removed while anything below
  // is still mounted (a bind source's host files would go with it).
  if (auto left = mount_entries_below(path() + "/"); !left.empty())
    return make_error("remove " + path() + ": " + left.front().point + " is still mounted", EBUSY);
  // state.json first: lock() makes a missing lock file only while it is there.
  unlink(file(layout::kStateFile).c_str());
  ec.clear();
  std::filesystem::remove_all(path(), ec);
  if (ec) return make_error("remove " + path() + ": " + ec.message(), ec.value());
  return {};
}

}  // namespace runvm::cli
