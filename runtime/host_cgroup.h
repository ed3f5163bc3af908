// The container's host cgroup (`linux.cgroupsPath`): made by `create`
// before the shim runs, which is placed in it before exec, so that QEMU,
// started by the shim, is in it too; removed by `delete` (and a foreground
// `run`). Two drivers, as runc: cgroupfs (spec/cgroup/cgroup.h), and with
// --systemd-cgroup a transient scope for "slice:prefix:name"
// (spec/cgroup/systemd.h). Limits: the container's CPU quota, period (and
// cpuset with cgroupfs), and a memory limit of the guest's RAM (or the
// container's limit when larger) plus runvm.toml's vm.overhead_mib, so the
// guest runs out of memory before QEMU could on the host. pids.limit is the
// guest's: on the host it would count QEMU's threads. No cgroupsPath: no
// host cgroup. `runvm update` changes the same limits live
// (HostCgroupUpdate).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "runtime/container_dir.h"
#include "runtime/shim_launcher.h"
#include "runtime/verbs.h"
#include "spec/base/unique_fd.h"
#include "spec/cgroup/cgroup.h"
#include "spec/cgroup/systemd.h"
#include "spec/config.h"

namespace runvm::cli {

class HostCgroup {
 public:
  // cgroupfs: creates the cgroup and sets its limits. systemd: checks the
  // path; the scope is started by placement() once the shim's pid is
  // known. nullptr when the container has no cgroupsPath. Removed again if
  // `create` fails (dismiss() once it succeeded).
  static Result<std::unique_ptr<HostCgroup>> prepare(const GlobalOptions& g,
                                                     const oci::Config& config);
  ~HostCgroup();
  // How the shim joins it (launch_shim).
  ShimPlacement placement();
  void dismiss() { keep_ = true; }

 private:
  std::unique_ptr<cgroup::Layout> layout_;
  cgroup::Limits limits_;
  std::optional<cgroup::Cgroup> cgroup_;     // cgroupfs
  std::optional<cgroup::SystemdUnit> unit_;  // systemd
  bool memory_v1_ = false;
  bool scope_started_ = false;
  std::vector<UniqueFd> procs_;
  bool keep_ = false;
};

// runvm update's hold on a running container's host cgroup: cgroupfs writes
// (spec/cgroup/cgroup.h); with --systemd-cgroup the scope's properties
// (SetUnitProperties). Inactive, every call a no-op, when the container has
// no cgroupsPath.
class HostCgroupUpdate {
 public:
  static Result<HostCgroupUpdate> open(const GlobalOptions& g, const oci::Config& config);
  bool active() const { return cgroup_.has_value() || unit_.has_value(); }
  Status set(const cgroup::Limits& limits);
  // The memory limit now (-1: none); nullopt when unknown (systemd, inactive).
  std::optional<int64_t> memory_limit() const;
  // Lowers the memory limit once the VM's usage is under it: the balloon
  // returns the guest's pages a moment after it was set, and a limit under
  // the usage would have the host's OOM killer take QEMU (v2) or be refused
  // (v1). Fails, leaving the limit as it was, after `settle`.
  Status lower_memory(int64_t bytes, std::chrono::milliseconds settle);

 private:
  std::unique_ptr<cgroup::Layout> layout_;
  std::optional<cgroup::Cgroup> cgroup_;     // cgroupfs
  std::optional<cgroup::SystemdUnit> unit_;  // systemd
  bool memory_v1_ = false;
};

// The host cgroup's memory limit for a container limit of `bytes` on a
// running VM: the guest's RAM as the balloon leaves it (whole MiB, at least
// 64, spec/vm_sizing.h) plus runvm.toml's vm.overhead_mib.
int64_t host_memory_for_update(const GlobalOptions& g, uint64_t bytes);

// The processes in the cgroupfs host cgroup of a container created from the
// config snapshot in `dir`: a claimed pool unit's shim and QEMU, which
// release_claimed_unit moves out (pool_release.h). Empty when it has none,
// and with --systemd-cgroup (a claim never joins a scope: pool::cold_reason).
std::vector<pid_t> host_cgroup_pids(const GlobalOptions& g, const ContainerDir& dir);

// Removes the host cgroup of a container created from the config snapshot
// in `dir` (nothing when it has none): cgroupfs kills what is left in it
// first (the shim and QEMU, once the container is gone); systemd stops the
// scope, which does the same.
Status remove_host_cgroup(const GlobalOptions& g, const ContainerDir& dir);

}  // namespace runvm::cli
