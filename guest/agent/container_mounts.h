// The config's mounts, maskedPaths and readonlyPaths, applied by the
// container process in its own mount namespace after it entered the root
// (so destinations resolve inside the container). Bind mounts of host paths
// arrive as virtio-fs shares (proto::Mount::share): the agent clones the
// wanted file or directory out of the share (open_tree) before fork and the
// process moves that onto the destination (move_mount). The root already
// has proc, sysfs, the guest's /dev (with pts, shm) and mqueue
// (container_root.h): config mounts of those exact kinds are skipped.
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

// Whether the root already provides this mount (skipped, see above).
bool provided_by_root(const proto::Mount& m);

// In the agent, before fork: for each bind mount (others get an invalid fd)
// a detached clone of its file or directory, taken by mounting the share at
// `staging` (unmounted again at once). Mounts only attach to the caller's
// namespace from trees of that namespace or detached ones (Linux 6.1), so
// the clone is what crosses into the container's namespace.
Result<std::vector<UniqueFd>> clone_bind_sources(const std::vector<proto::Mount>& mounts,
                                                 const std::string& staging);

// In the container process, after it entered the root: `sources` from
// clone_bind_sources, by index (-1: none).
Status apply_mounts(const std::vector<proto::Mount>& mounts, const std::vector<int>& sources);
Status mask_paths(const std::vector<std::string>& paths);
Status make_readonly_paths(const std::vector<std::string>& paths);

}  // namespace runvm::agent
