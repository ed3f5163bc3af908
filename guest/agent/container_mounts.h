// The config's mounts, maskedPaths and readonlyPaths, applied by the
// container process in its own mount namespace after it entered the root
// (so destinations resolve inside the container), in the config's order (a
// container's mountinfo lists them so). Bind mounts of host paths
// arrive as virtio-fs shares (proto::Mount::share): the agent clones the
// wanted file or directory out of the share (open_tree) before fork and the
// process moves that onto the destination (move_mount). A devpts on
// /dev/pts is the guest's own (the agent's ptys live there), moved in from a
// detached clone the same way. Where the config has no /proc, /sys, /dev,
// /dev/pts or /dev/mqueue, runc's default is added (order_mounts).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "guest/protocol/linux_spec.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

// mount(2) flags and data of a mount's options ("ro", "nosuid", "size=1m").
struct MountOptions {
  unsigned long flags = 0;  // MS_*
  unsigned long clear = 0;  // MS_* an option turned off ("rw", "exec")
  std::string data;         // the rest, comma-separated
  bool bind = false, recursive = false;
  // Propagation changes (MS_SHARED, MS_PRIVATE | MS_REC, ...), in order,
  // applied to the mount once it is in place.
  std::vector<unsigned long> propagation;
};
MountOptions parse_mount_options(const std::vector<std::string>& options);

// MS_* of a propagation name ("rslave" = MS_SLAVE | MS_REC); 0 for others.
unsigned long propagation_flags(std::string_view name);

// The mounts in the order they are made: the config's, with the defaults
// for a missing /proc, /sys and /dev first and a missing /dev/pts and
// /dev/mqueue right after the /dev (unless that is bound from the host).
// index: the config's index, -1 for a default.
struct OrderedMount {
  const proto::Mount* mount;
  int index;
};
std::vector<OrderedMount> order_mounts(const std::vector<proto::Mount>& mounts);

// In the agent, before fork: for each bind mount (others get an invalid fd)
// a detached clone of its file or directory, taken by mounting the share at
// `staging` (unmounted again at once). Mounts only attach to the caller's
// namespace from trees of that namespace or detached ones (Linux 6.1), so
// the clone is what crosses into the container's namespace.
Result<std::vector<UniqueFd>> clone_bind_sources(const std::vector<proto::Mount>& mounts,
                                                 const std::string& staging);

// In the container process, before it enters the root (while the guest's
// /proc is in view): keeps the guest's dentry cache control open, with which
// apply_mounts forgets a mountpoint's cached miss that another VM sharing the
// rootfs made stale. Best effort: without it such a mount fails as before.
void open_dentry_cache_control();

// In the container process, after it entered the root: `sources` from
// clone_bind_sources, by index (-1: none); `pts_tree` a detached clone of
// the guest's devpts. A read-only tmpfs /dev is mounted writable, to be
// filled, and made read-only by finish_dev afterwards, as runc does.
Status apply_mounts(const std::vector<proto::Mount>& mounts, const std::vector<int>& sources,
                    int pts_tree);
Status finish_dev(const std::vector<proto::Mount>& mounts);
Status mask_paths(const std::vector<std::string>& paths);
Status make_readonly_paths(const std::vector<std::string>& paths);

}  // namespace runvm::agent
