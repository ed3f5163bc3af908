// The host's cgroup hierarchies as this process sees them: cgroup v1 (one
// mount per controller set), v2 (one unified mount) or hybrid (v1
// controllers plus a cgroup2 mount, e.g. /sys/fs/cgroup/unified holding
// only hugetlb). Read from /proc/self/mountinfo and /proc/self/cgroup, so
// a container's path resolves the way runc's cgroupfs driver resolves it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "spec/base/result.h"

namespace runvm::cgroup {

struct Hierarchy {
  int version = 1;         // 1 or 2
  std::string mountpoint;  // e.g. /sys/fs/cgroup/memory
  std::string root;        // the mount's root inside the hierarchy ("/" unless bind-mounted)
  // v1: the controllers bound to it (and "name=systemd" for a named one);
  // v2: those its root's cgroup.controllers lists.
  std::vector<std::string> controllers;
  // This process's cgroup in the hierarchy, relative to `root` ("/" at the top).
  std::string own = "/";

  bool has(std::string_view controller) const;
};

enum class Mode { kV1, kV2, kHybrid };

struct Layout {
  Mode mode = Mode::kV1;
  std::vector<Hierarchy> hierarchies;

  // The hierarchy a controller's files live in (v1 first: in the hybrid
  // layout the cgroup2 mount lacks what v1 holds); nullptr when none.
  const Hierarchy* with(std::string_view controller) const;
};

// From the text of /proc/self/mountinfo and /proc/self/cgroup. A cgroup2
// mount's controllers are read from <mountpoint>/cgroup.controllers.
// Fails when no cgroup hierarchy is mounted.
Result<Layout> parse_layout(std::string_view mountinfo, std::string_view proc_self_cgroup);

// This process's layout.
Result<Layout> detect_layout();

}  // namespace runvm::cgroup
