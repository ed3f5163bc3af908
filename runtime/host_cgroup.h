// The container's host cgroup (`linux.cgroupsPath`, cgroupfs driver:
// spec/cgroup): made by `create` before the shim starts, which joins it
// before exec so that QEMU, started by the shim, is in it too; removed by
// `delete` (and a foreground `run`). Limits: the container's CPU quota,
// period and cpuset, and a memory limit of the guest's RAM (or the
// container's limit when larger) plus runvm.toml's vm.overhead_mib, so the
// guest runs out of memory before QEMU could on the host. pids.limit is the
// guest's: on the host it would count QEMU's threads.
// No host cgroup without a cgroupsPath, or with --systemd-cgroup (the
// systemd driver is not there yet).
#pragma once

#include <memory>
#include <vector>

#include "runtime/container_dir.h"
#include "runtime/verbs.h"
#include "spec/base/unique_fd.h"
#include "spec/cgroup/cgroup.h"
#include "spec/config.h"

namespace runvm::cli {

class HostCgroup {
 public:
  // Creates the cgroup and sets its limits; nullptr when the container has
  // none. Removed again if `create` fails (dismiss() once it succeeded).
  static Result<std::unique_ptr<HostCgroup>> prepare(const GlobalOptions& g,
                                                     const oci::Config& config);
  ~HostCgroup();
  // The cgroup.procs files to write "0" to in the shim's child before exec
  // (async-signal-safe: plain writes): it joins every hierarchy.
  std::vector<int> procs_fds() const;
  void dismiss() { keep_ = true; }

 private:
  std::unique_ptr<cgroup::Layout> layout_;
  std::optional<cgroup::Cgroup> cgroup_;
  std::vector<UniqueFd> procs_;
  bool keep_ = false;
};

// Removes the host cgroup of a container created from the config snapshot
// in `dir` (nothing when it has none), SIGKILLing what is left in it first:
// the shim and QEMU, once the container is gone.
Status remove_host_cgroup(const GlobalOptions& g, const ContainerDir& dir);

}  // namespace runvm::cli
