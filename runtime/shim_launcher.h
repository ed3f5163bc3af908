// Starts runvm-shim for a container. The shim inherits our stdio (that is
// the container's stdio, as with runc) unless the container has a terminal and stays our child:
// whoever runs `runvm create` (conmon, containerd-shim) is its subreaper, so it must not be
// double-forked away. It reports on a pipe once the VM is booted and the container process is
// created, or why it failed.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "spec/base/result.h"

namespace runvm::cli {

// Path of runvm-shim next to this runvm (build tree or installed).
Result<std::string> find_shim_binary();

// Spawns `argv` (argv[0] = shim binary) with --ready-fd appended, waits for
// its report and returns its pid. On failure the shim has exited and been
// reaped, and the error is the shim's own message.
// `null_stdio`: the shim gets /dev/null as stdio. For a terminal the
// container's stdio is the pty, and like runc nothing may keep the caller's
// pipes open: containerd's runc shim reads `create`'s output to EOF.
// `netns` (when valid): the network namespace the shim, and so QEMU, runs in
// (namespace_paths.h); else with `fresh_netns` a new, empty one
// (network_namespace.h); else ours.
// `placement`: the host cgroup the shim joins before exec (host_cgroup.h).
struct ShimPlacement {
  // cgroup.procs files it writes "0" to (cgroupfs).
  std::vector<int> cgroup_procs;
  // Called with its pid while it waits before exec (systemd's
  // StartTransientUnit); a failure kills it and fails the launch.
  std::function<Status(pid_t)> place;
};
Result<pid_t> launch_shim(std::vector<std::string> argv, bool null_stdio, int netns = -1,
                          bool fresh_netns = false, const ShimPlacement& placement = {});

// Runs `argv`, a `runvm-shim --check` that prints its report on our stdout,
// with --ready-fd appended, until it exits; its error is the shim's own.
Status run_shim_check(std::vector<std::string> argv);

}  // namespace runvm::cli
