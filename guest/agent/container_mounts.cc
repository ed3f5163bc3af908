#include "guest/agent/container_mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "guest/agent/container_root.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {
namespace {

struct FlagOption {
  std::string_view name;
  unsigned long flag;
  bool set;  // false: the option clears the flag
};
constexpr FlagOption kFlagOptions[] = {
    {"ro", MS_RDONLY, true},
    {"rw", MS_RDONLY, false},
    {"nosuid", MS_NOSUID, true},
    {"suid", MS_NOSUID, false},
    {"nodev", MS_NODEV, true},
    {"dev", MS_NODEV, false},
    {"noexec", MS_NOEXEC, true},
    {"exec", MS_NOEXEC, false},
    {"sync", MS_SYNCHRONOUS, true},
    {"async", MS_SYNCHRONOUS, false},
    {"dirsync", MS_DIRSYNC, true},
    {"remount", MS_REMOUNT, true},
    {"mand", MS_MANDLOCK, true},
    {"nomand", MS_MANDLOCK, false},
    {"noatime", MS_NOATIME, true},
    {"atime", MS_NOATIME, false},
    {"nodiratime", MS_NODIRATIME, true},
    {"diratime", MS_NODIRATIME, false},
    {"relatime", MS_RELATIME, true},
    {"norelatime", MS_RELATIME, false},
    {"strictatime", MS_STRICTATIME, true},
    {"nostrictatime", MS_STRICTATIME, false},
};

struct Propagation {
  std::string_view name;
  unsigned long flags;
};
constexpr Propagation kPropagations[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

// runc-specific options that are no mount data.
constexpr std::string_view kIgnoredOptions[] = {"tmpcopyup", "defaults", "idmap", "ridmap"};

std::string without_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// The guest's /proc/sys/vm/drop_caches (open_dentry_cache_control).
UniqueFd& drop_caches() {
  static UniqueFd fd;
  return fd;
}

// mkdir said EEXIST: the host has `path`, but the guest may still cache the
// miss its own lookup got just before the mkdir. That happens when another VM
// shares this rootfs (containers of one bundle started at once) and creates
// the same mountpoint in between: the rootfs share lets the guest cache
// misses (exclusive cache policy, shim/fs) and virtio-fs cannot invalidate
// them, so the mount on `path` would fail with ENOENT. Dropping the guest's
// unused dentries forgets the miss.
Status expect_exists(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 || errno != ENOENT) return {};
  if (drop_caches() && ::pwrite(drop_caches().get(), "2", 1, 0) < 0)
    return errno_error("dropping the guest's dentry cache for " + path);
  if (::lstat(path.c_str(), &st) == 0) return {};
  return errno_error("mkdir " + path + ": exists on the host, missing in the guest");
}

// mkdir -p; absolute paths inside the container.
Status make_dirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), 0755) == 0) continue;
    if (errno != EEXIST) return errno_error("mkdir " + prefix);
    RUNVM_CHECK(expect_exists(prefix));
  }
  return {};
}

// The mountpoint: a directory, or an empty file for a file bind mount.
Status make_mountpoint(const std::string& dest, bool file) {
  if (!file) return make_dirs(dest);
  RUNVM_CHECK(make_dirs(dest.substr(0, dest.rfind('/'))));
  UniqueFd fd(::open(dest.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd && errno != EISDIR) return errno_error("creating mountpoint " + dest);
  return {};
}

// Moves the detached bind source `tree` onto the destination.
Status attach(const proto::Mount& m, int tree) {
  struct stat st;
  if (::fstat(tree, &st) < 0) return errno_error("stat bind source");
  RUNVM_CHECK(make_mountpoint(m.destination, !S_ISDIR(st.st_mode)));
  if (::move_mount(tree, "", AT_FDCWD, m.destination.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return errno_error("bind mount on " + m.destination);
  return {};
}

Status set_propagation(const MountOptions& o, const std::string& dest) {
  for (unsigned long flags : o.propagation)
    if (::mount(nullptr, dest.c_str(), nullptr, flags, nullptr) < 0)
      return errno_error("setting the propagation of " + dest);
  return {};
}

bool is_dev(const proto::Mount& m) { return without_trailing_slashes(m.destination) == "/dev"; }

Status apply_one(const proto::Mount& m, int source, int pts_tree) {
  MountOptions o = parse_mount_options(m.options);
  const char* dest = m.destination.c_str();
  if (!m.share.empty() || o.bind) {
    if (source < 0) return make_error("bind mount of " + m.destination + " has no share");
    RUNVM_CHECK(attach(m, source));
    // Bind mounts take their flags only from a remount.
    unsigned long flags = o.flags & ~MS_REMOUNT;
    if (flags != 0 && ::mount(nullptr, dest, nullptr, MS_BIND | MS_REMOUNT | flags, nullptr) < 0)
      return errno_error("remounting " + m.destination);
    return set_propagation(o, m.destination);
  }
  RUNVM_CHECK(make_dirs(m.destination));
  if (m.type == "devpts" && without_trailing_slashes(m.destination) == "/dev/pts") {
    // The guest's devpts, where the agent allocates the container's ptys.
    if (::move_mount(pts_tree, "", AT_FDCWD, dest, MOVE_MOUNT_F_EMPTY_PATH) < 0)
      return errno_error("mounting devpts on " + m.destination);
    return set_propagation(o, m.destination);
  }
  // A read-only /dev is made read-only once it is filled (finish_dev).
  if (is_dev(m)) o.flags &= ~MS_RDONLY;
  std::string type = m.type == "cgroup" ? "cgroup2" : m.type;
  const char* data = o.data.empty() ? nullptr : o.data.c_str();
  if (::mount(m.source.empty() ? type.c_str() : m.source.c_str(), dest, type.c_str(), o.flags,
              data) < 0)
    return errno_error("mount " + type + " on " + m.destination);
  return set_propagation(o, m.destination);
}

// runc's defaults for what a container always has.
const std::vector<std::string> kNoSuidDevExec = {"nosuid", "noexec", "nodev"};
const proto::Mount kDefaultProc{"/proc", "proc", "proc", "", kNoSuidDevExec};
const proto::Mount kDefaultSys{"/sys", "sysfs", "sysfs", "", kNoSuidDevExec};
const proto::Mount kDefaultDev{
    "/dev", "tmpfs", "tmpfs", "", {"nosuid", "strictatime", "mode=755", "size=65536k"}};
const proto::Mount kDefaultPts{"/dev/pts", "devpts", "devpts", "", {"nosuid", "noexec"}};
const proto::Mount kDefaultMqueue{"/dev/mqueue", "mqueue", "mqueue", "", kNoSuidDevExec};

}  // namespace

unsigned long propagation_flags(std::string_view name) {
  for (const auto& p : kPropagations)
    if (p.name == name) return p.flags;
  return 0;
}

MountOptions parse_mount_options(const std::vector<std::string>& options) {
  MountOptions o;
  for (const auto& opt : options) {
    if (opt == "bind" || opt == "rbind") {
      o.bind = true;
      o.recursive |= opt == "rbind";
      continue;
    }
    bool known = false;
    for (const auto& f : kFlagOptions) {
      if (opt != f.name) continue;
      known = true;
      if (f.set) {
        o.flags |= f.flag;
        o.clear &= ~f.flag;
      } else {
        o.flags &= ~f.flag;
        o.clear |= f.flag;
      }
    }
    if (unsigned long p = propagation_flags(opt)) {
      o.propagation.push_back(p);
      continue;
    }
    for (auto ignored : kIgnoredOptions) known |= opt == ignored;
    if (known) continue;
    if (!o.data.empty()) o.data += ",";
    o.data += opt;
  }
  return o;
}

std::vector<OrderedMount> order_mounts(const std::vector<proto::Mount>& mounts) {
  auto has = [&](std::string_view dest) {
    for (const auto& m : mounts)
      if (without_trailing_slashes(m.destination) == dest) return true;
    return false;
  };
  std::vector<OrderedMount> out;
  if (!has("/proc")) out.push_back({&kDefaultProc, -1});
  if (!has("/sys")) out.push_back({&kDefaultSys, -1});
  // pts and mqueue go right after the /dev they live in; a /dev bound from
  // the host brings its own.
  auto dev_children = [&](const proto::Mount& dev) {
    if (!dev.share.empty()) return;
    if (!has("/dev/pts")) out.push_back({&kDefaultPts, -1});
    if (!has("/dev/mqueue")) out.push_back({&kDefaultMqueue, -1});
  };
  if (!has("/dev")) {
    out.push_back({&kDefaultDev, -1});
    dev_children(kDefaultDev);
  }
  for (size_t i = 0; i < mounts.size(); ++i) {
    out.push_back({&mounts[i], static_cast<int>(i)});
    if (is_dev(mounts[i])) dev_children(mounts[i]);
  }
  return out;
}

Result<std::vector<UniqueFd>> clone_bind_sources(const std::vector<proto::Mount>& mounts,
                                                 const std::string& staging) {
  std::vector<UniqueFd> out(mounts.size());
  for (size_t i = 0; i < mounts.size(); ++i) {
    const proto::Mount& m = mounts[i];
    if (m.share.empty()) continue;
    std::string where = "mounts[" + std::to_string(i) + "]: share \"" + m.share + "\"";
    // The host names a file or directory inside the share, never outside.
    if (m.source.starts_with("/") || m.source == ".." || m.source.starts_with("../") ||
        m.source.find("/../") != std::string::npos || m.source.ends_with("/.."))
      return make_error(where + ": invalid path \"" + m.source + "\"");
    RUNVM_CHECK(make_dirs(staging));
    if (::mount(m.share.c_str(), staging.c_str(), "virtiofs", 0, nullptr) < 0)
      return errno_error(where);
    // As the rootfs: a bind mount's large files come in 1 MiB READs, not
    // 128 KiB ones (the clone below shares the superblock, and so its bdi).
    widen_share_readahead(staging);
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_NO_AUTOMOUNT | AT_SYMLINK_NOFOLLOW;
    if (parse_mount_options(m.options).recursive) flags |= AT_RECURSIVE;
    std::string path = m.source.empty() ? staging : staging + "/" + m.source;
    out[i].reset(::open_tree(AT_FDCWD, path.c_str(), flags));
    int e = errno;
    // The clone keeps the share alive; the staging mount is not needed.
    ::umount2(staging.c_str(), MNT_DETACH);
    if (!out[i]) return errno_error(where + ": " + m.source, e);
  }
  return out;
}

void open_dentry_cache_control() {
  drop_caches() = UniqueFd(::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC));
}

Status apply_mounts(const std::vector<proto::Mount>& mounts, const std::vector<int>& sources,
                    int pts_tree) {
  for (const auto& [m, index] : order_mounts(mounts)) {
    int source = index >= 0 && static_cast<size_t>(index) < sources.size() ? sources[index] : -1;
    std::string where = index >= 0 ? "mounts[" + std::to_string(index) + "]" : m->destination;
    RUNVM_CHECK(apply_one(*m, source, pts_tree).context(where));
  }
  return {};
}

Status finish_dev(const std::vector<proto::Mount>& mounts) {
  for (const auto& m : mounts) {
    if (!m.share.empty() || !is_dev(m)) continue;
    MountOptions o = parse_mount_options(m.options);
    if (!(o.flags & MS_RDONLY) || o.bind) continue;
    if (::mount(nullptr, "/dev", nullptr, MS_REMOUNT | MS_BIND | (o.flags & ~MS_REMOUNT), nullptr) <
        0)
      return errno_error("remounting /dev read-only");
  }
  return {};
}

Status mask_paths(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    struct stat st;
    if (::lstat(p.c_str(), &st) < 0) {
      if (errno == ENOENT) continue;  // nothing to hide
      return errno_error("maskedPaths: " + p);
    }
    int r = S_ISDIR(st.st_mode)
                ? ::mount("tmpfs", p.c_str(), "tmpfs", MS_RDONLY, "size=0k,mode=0555")
                : ::mount("/dev/null", p.c_str(), nullptr, MS_BIND, nullptr);
    if (r < 0) return errno_error("maskedPaths: " + p);
  }
  return {};
}

Status make_readonly_paths(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
      if (errno == ENOENT) continue;
      return errno_error("readonlyPaths: " + p);
    }
    if (::mount(nullptr, p.c_str(), nullptr,
                MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0)
      return errno_error("readonlyPaths: " + p);
  }
  return {};
}

}  // namespace runvm::agent
