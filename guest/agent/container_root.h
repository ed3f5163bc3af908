// The container's root filesystem as the agent prepares it in its own mount
// namespace: the virtio-fs share at <root_dir>/<container id> (one VM may
// hold several containers). The container process enters
// it in a private mount namespace (process_init.h) and makes the config's
// mounts there, in order (container_mounts.h), with the guest's devpts
// (where the agent allocates the container's ptys) on /dev/pts. The agent's
// view is unmounted on destruction.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "guest/protocol/container_messages.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

class CgroupSpare;

struct RootConfig {
  std::string root_dir = "/run/runvm/rootfs";
  // Host unit tests only: bind this directory instead of mounting the
  // virtio-fs share (whose backend the test has no VM for).
  std::string bind_rootfs;
  // What the container gets on /dev/pts: where the agent's ptys live.
  std::string pts_dir = "/dev/pts";
  // The guest's cgroup2 mount (container_cgroup.h); empty: no cgroups.
  std::string cgroup_root;
  // The guest's agent (PID 1) only: sync(2) when a container's main process
  // was reaped, before its exit is reported, so that pages it dirtied
  // through shared mappings reached the host and the host may kill the VM
  // without a shutdown round trip (PROTOCOL.md). Never on a test's host.
  bool sync_at_exit = false;
  // A share the agent mounted at boot (runvm.premount=TAG: a pool unit's
  // pod share), at premounted_dir: a pod member's root on it is bound from
  // there, with no mount (and FUSE_INIT round trip) of its own.
  std::string premounted_tag, premounted_dir;
  // The guest's agent (PID 1) only: a cgroup below cgroup_root made while
  // the VM waited, which the first create adopts (container_cgroup.h).
  std::shared_ptr<CgroupSpare> cgroup_spare;
};

// runvm.premount=TAG on the kernel command line `cmdline`: the tag, if one
// that can name a virtio-fs share (1-36 of [A-Za-z0-9_-]).
std::string premount_tag_from_cmdline(std::string_view cmdline);
// Widens the read-ahead of the virtio-fs share mounted at `mountpoint` to the
// 1 MiB its device takes per request (best effort).
void widen_share_readahead(const std::string& mountpoint);
// Mounts the virtio-fs share `tag` at `dir` and widens its read-ahead.
Status mount_share(const std::string& tag, const std::string& dir);

class ContainerRoot {
 public:
  // `id` is a valid container id (container_messages.h): one path element.
  static Result<ContainerRoot> mount(const RootConfig& config, const std::string& id,
                                     const proto::Rootfs& rootfs);
  // A detached clone of config.pts_dir, for the container's /dev/pts.
  static Result<UniqueFd> clone_pts(const RootConfig& config);

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
