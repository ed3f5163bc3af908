// Starts runvm-shim for a container. The shim inherits our stdio (that is
// the container's stdio, as with runc) and stays our child: whoever runs
// `runvm create` (conmon, containerd-shim) is its subreaper, so it must not
// be double-forked away. It reports on a pipe once the VM is booted and the
// container process is created, or why it failed.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "spec/base/result.h"

namespace runvm::cli {

// Path of runvm-shim next to this runvm (build tree or installed).
Result<std::string> find_shim_binary();

// Spawns `argv` (argv[0] = shim binary) with --ready-fd appended, waits for
// its report and returns its pid. On failure the shim has exited and been
// reaped, and the error is the shim's own message.
Result<pid_t> launch_shim(std::vector<std::string> argv);

}  // namespace runvm::cli
