// The container's root filesystem as the agent prepares it in its own mount
// namespace: the virtio-fs share at root_dir with proc, sys, a fresh tmpfs
// on dev (as runc: a minimal /dev, never the guest's devtmpfs), the guest's
// devpts bound on dev/pts (the agent allocates the container's ptys there)
// and dev/mqueue. The container process fills dev (container_devices.h). The container process then
// enters it in a private mount namespace (process_init.h); the agent's view is unmounted on
// destruction.
#pragma once

#include <string>
#include <vector>

#include "guest/protocol/container_messages.h"
#include "spec/base/result.h"

namespace runvm::agent {

struct RootConfig {
  std::string root_dir = "/run/runvm/rootfs";
  // Host unit tests only: bind this directory instead of mounting the
  // virtio-fs share (whose backend the test has no VM for).
  std::string bind_rootfs;
  // What gets bound to <root>/dev/pts: where the agent's ptys live.
  std::string pts_dir = "/dev/pts";
  // The guest's cgroup2 mount (container_cgroup.h); empty: no cgroups.
  std::string cgroup_root;
};

class ContainerRoot {
 public:
  static Result<ContainerRoot> mount(const RootConfig& config, const proto::Rootfs& rootfs);

  ContainerRoot(ContainerRoot&& o) noexcept
      : path_(std::move(o.path_)), mounts_(std::move(o.mounts_)) {
    o.mounts_.clear();
  }
  ContainerRoot& operator=(ContainerRoot&&) = delete;
  ContainerRoot(const ContainerRoot&) = delete;
  ~ContainerRoot() { unmount(); }

  const std::string& path() const { return path_; }
  // Detaches every mount, innermost first. Idempotent.
  void unmount();

 private:
  explicit ContainerRoot(std::string path) : path_(std::move(path)) {}
  Status mount_at(const char* source, const std::string& target, const char* fstype,
                  unsigned long flags, const char* data);

  std::string path_;
  std::vector<std::string> mounts_;  // in mount order
};

}  // namespace runvm::agent
