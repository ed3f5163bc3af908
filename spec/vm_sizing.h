// The microVM's size for one container: guest RAM and vCPUs from the
// container's linux.resources, so the guest holds what the container may use
// and no more (the host cgroup adds runvm.toml's overhead budget for QEMU
// and the shim outside the guest, runtime/host_cgroup.h):
//   memory: runvm.io/memory, else a pod sandbox's
//           io.kubernetes.cri.sandbox-memory (below), else memory.limit
//           (rounded up to MiB, at least 64 MiB), else the default;
//   vCPUs:  runvm.io/vcpus, else a pod sandbox's
//           ceil(io.kubernetes.cri.sandbox-cpu-quota / -cpu-period), else
//           ceil(cpu.quota / cpu.period) and the number of CPUs in cpu.cpus
//           (the smaller when both are set), else the default; at most 64
//           (the guest kernel's NR_CPUS).
// containerd's CRI (1.6.7 on) puts the pod's resources, the sum of its
// containers' limits, on the sandbox's spec as those annotations (0: none);
// a pod's VM is its sandbox's, so they size the whole pod.
// Shared by the CLI (host cgroup limit) and the shim (QEMU's -m/-smp), so
// both size the same VM.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "spec/base/result.h"
#include "spec/config.h"

namespace runvm::oci {

inline constexpr char kCriSandboxMemory[] = "io.kubernetes.cri.sandbox-memory";
inline constexpr char kCriSandboxCpuQuota[] = "io.kubernetes.cri.sandbox-cpu-quota";
inline constexpr char kCriSandboxCpuPeriod[] = "io.kubernetes.cri.sandbox-cpu-period";

struct VmSize {
  uint64_t memory_mib = 256;
  unsigned vcpus = 1;
  bool operator==(const VmSize&) const = default;
};

// `defaults`: runvm.toml's (or the shim's flags). Errors name the annotation
// or the JSON path (linux.resources.cpu.cpus).
Result<VmSize> size_vm(const Config& config, VmSize defaults);

// The guest RAM in MiB for a memory limit of `bytes` (> 0): rounded up to
// whole MiB, at least 64. runvm update balloons a running guest to it.
uint64_t guest_mib_for_limit(uint64_t bytes);

// The number of CPUs in a cpuset list ("0-3,5" -> 5); nullopt when malformed
// (empty parts, reversed ranges, numbers past 2^20).
std::optional<unsigned> count_cpu_list(std::string_view list);

}  // namespace runvm::oci
