#include "guest/agent/container_root.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>

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

constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

}  // namespace

Status ContainerRoot::mount_at(const char* source, const std::string& target, const char* fstype,
                               unsigned long flags, const char* data) {
  RUNVM_CHECK(make_dirs(target, 0755));
  if (::mount(source, target.c_str(), fstype, flags, data) != 0)
    return errno_error(std::string("mount ") + (fstype ? fstype : source) + " on " + target);
  mounts_.push_back(target);
  return {};
}

Result<ContainerRoot> ContainerRoot::mount(const RootConfig& config, const proto::Rootfs& rootfs) {
  ContainerRoot root(config.root_dir);
  const std::string& dir = root.path_;
  // Read-only is applied by the container process after it created its
  // mountpoints and cwd (like runc), in its own namespace.
  if (config.bind_rootfs.empty())
    RUNVM_CHECK(root.mount_at(rootfs.tag.c_str(), dir, "virtiofs", 0, nullptr)
                    .context("rootfs share \"" + rootfs.tag + "\""));
  else
    RUNVM_CHECK(root.mount_at(config.bind_rootfs.c_str(), dir, nullptr, MS_BIND, nullptr));
  RUNVM_CHECK(root.mount_at("proc", dir + "/proc", "proc", kNoSuidDevExec, nullptr));
  RUNVM_CHECK(root.mount_at("sysfs", dir + "/sys", "sysfs", kNoSuidDevExec, nullptr));
  // runc's /dev: what the container needs is created in it, nothing more.
  RUNVM_CHECK(root.mount_at("tmpfs", dir + "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                            "mode=755,size=65536k"));
  RUNVM_CHECK(root.mount_at(config.pts_dir.c_str(), dir + "/dev/pts", nullptr, MS_BIND, nullptr));
  RUNVM_CHECK(root.mount_at("mqueue", dir + "/dev/mqueue", "mqueue", kNoSuidDevExec, nullptr));
  return root;
}

void ContainerRoot::unmount() {
  // Lazy: a process of the container may still hold a cwd or fd in them.
  for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  mounts_.clear();
}

}  // namespace runvm::agent
