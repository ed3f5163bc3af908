#include "guest/agent/container_root.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>

#include "guest/agent/kernel_cmdline.h"
#include "guest/agent/kernel_file.h"

namespace runvm::agent {
namespace {

// mkdir -p for paths the agent controls (root_dir and fixed names below it).
Status make_dirs(const std::string& path, mode_t mode) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST)
      return errno_error("mkdir " + prefix);
  }
  return {};
}

}  // namespace

// The kernel's default read-ahead (128 KiB) makes every page fault of an
// executable on the share a READ round trip to the host of 128 KiB: a 2 MiB
// busybox took 16 of them before `true` ran. The share's device takes 1 MiB
// per request (FUSE max_pages), so a read-around that size fetches such a
// binary in two. Best effort: only speed depends on it.
void widen_share_readahead(const std::string& mountpoint) {
  struct stat st;
  if (::stat(mountpoint.c_str(), &st) != 0) return;
  // fuse names its bdi "MAJOR:MINOR" of the superblock's anonymous device.
  (void)write_kernel_file("/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" +
                              std::to_string(minor(st.st_dev)) + "/read_ahead_kb",
                          "1024");
}

std::string premount_tag_from_cmdline(std::string_view cmdline) {
  constexpr std::string_view kKey = "runvm.premount=";
  std::string_view found;
  find_cmdline_word(cmdline, [&](std::string_view word) {
    if (!word.starts_with(kKey)) return false;
    std::string_view tag = word.substr(kKey.size());
    bool valid = !tag.empty() && tag.size() <= 36;
    for (char ch : tag)
      valid = valid && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '_' || ch == '-');
    if (valid) found = tag;
    return valid;
  });
  return std::string(found);
}

Status mount_share(const std::string& tag, const std::string& dir) {
  RUNVM_CHECK(make_dirs(dir, 0700));
  if (::mount(tag.c_str(), dir.c_str(), "virtiofs", 0, nullptr) != 0) {
    Error e = errno_error("mount virtiofs " + tag + " on " + dir);
    ::rmdir(dir.c_str());
    return e;
  }
  widen_share_readahead(dir);
  return {};
}

Status ContainerRoot::mount_at(const char* source, const std::string& target, const char* fstype,
                               unsigned long flags, const char* data) {
  RUNVM_CHECK(make_dirs(target, 0755));
  if (::mount(source, target.c_str(), fstype, flags, data) != 0) {
    Error e = errno_error(std::string("mount ") + (fstype ? fstype : source) + " on " + target);
    ::rmdir(target.c_str());  // one per container id: none may pile up
    return e;
  }
  mounts_.push_back(target);
  return {};
}

Result<UniqueFd> ContainerRoot::clone_pts(const RootConfig& config) {
  UniqueFd tree(::open_tree(AT_FDCWD, config.pts_dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (!tree) return errno_error("cloning " + config.pts_dir);
  return tree;
}

Result<ContainerRoot> ContainerRoot::mount(const RootConfig& config, const std::string& id,
                                           const proto::Rootfs& rootfs) {
  ContainerRoot root(config.root_dir + "/" + id);
  const std::string& dir = root.path_;
  // Read-only is applied by the container process after it created its
  // mountpoints and cwd (like runc), in its own namespace, where it also
  // makes every other mount (container_mounts.h).
  if (config.bind_rootfs.empty() && !rootfs.path.empty()) {
    // A pod member: its root is a directory at the top of the pod's share.
    // The share is mounted apart (the same superblock each time: virtio-fs
    // has one per device), the directory bound onto the container's root,
    // and the share's own mount dropped again at once.
    // Mounted at boot already (a pool unit's): used as it is, and kept.
    const bool premounted = !config.premounted_dir.empty() && rootfs.tag == config.premounted_tag;
    std::string staging = premounted ? config.premounted_dir : config.root_dir + "/.share-" + id;
    if (!premounted) RUNVM_CHECK(make_dirs(staging, 0700));
    Status bound;
    if (!premounted && ::mount(rootfs.tag.c_str(), staging.c_str(), "virtiofs", 0, nullptr) != 0) {
      bound = errno_error("mount virtiofs on " + staging);
    } else {
      if (!premounted) widen_share_readahead(staging);
      // O_NOFOLLOW-like: the name is one element and the host made it a
      // directory; a symlink there is refused rather than followed.
      struct stat st;
      std::string source = staging + "/" + rootfs.path;
      if (::lstat(source.c_str(), &st) != 0)
        bound = errno_error("rootfs " + rootfs.path);
      else if (!S_ISDIR(st.st_mode))
        bound = make_error("rootfs " + rootfs.path + ": not a directory", ENOTDIR);
      else
        bound = root.mount_at(source.c_str(), dir, nullptr, MS_BIND, nullptr);
      if (!premounted) ::umount2(staging.c_str(), MNT_DETACH);
    }
    if (!premounted) ::rmdir(staging.c_str());
    RUNVM_CHECK(std::move(bound).context("rootfs share \"" + rootfs.tag + "\""));
  } else if (config.bind_rootfs.empty()) {
    RUNVM_CHECK(root.mount_at(rootfs.tag.c_str(), dir, "virtiofs", 0, nullptr)
                    .context("rootfs share \"" + rootfs.tag + "\""));
    widen_share_readahead(dir);
  } else
    RUNVM_CHECK(root.mount_at(config.bind_rootfs.c_str(), dir, nullptr, MS_BIND, nullptr));
  return root;
}

void ContainerRoot::unmount() {
  // Lazy: a process of the container may still hold a cwd or fd in them.
  for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
    ::umount2(it->c_str(), MNT_DETACH);
    ::rmdir(it->c_str());  // the per-id mountpoint; fails harmlessly if in use
  }
  mounts_.clear();
}

}  // namespace runvm::agent
