// A container's host cgroup through cgroupfs, as runc's cgroupfs driver
// makes it: `linux.cgroupsPath` in every mounted hierarchy (v1: all of them,
// named ones included; v2: the unified one; hybrid: both), the shim and QEMU
// joined to it and the VM's limits written there. A small library apart
// from the shim, because `runvm delete` (the CLI) removes it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec/base/result.h"
#include "spec/cgroup/layout.h"

namespace runvm::cgroup {

// What the host cgroup limits; unset fields are left alone.
struct Limits {
  // Bytes; -1: unlimited. For a microVM: the guest's RAM plus runvm.toml's
  // vm.overhead_mib (host_memory_limit), so that the guest runs out first.
  std::optional<int64_t> memory_bytes;
  // The VM's CPU weight against others: v1 cpu.shares, v2 cpu.weight
  // (converted as runc does).
  std::optional<uint64_t> cpu_shares;
  std::optional<int64_t> cpu_quota_us;  // -1: unlimited
  std::optional<uint64_t> cpu_period_us;
  std::optional<std::string> cpuset_cpus, cpuset_mems;
  std::optional<int64_t> pids_max;  // <= 0: unlimited ("max"), as runc
};

// cgroup v2's cpu.weight (1..10000) for v1 cpu.shares (2..262144), runc's formula.
uint64_t cpu_weight_of_shares(uint64_t shares);

// The host limit for a guest of `guest_bytes` RAM: plus the overhead budget.
int64_t host_memory_limit(uint64_t guest_bytes, uint64_t overhead_mib);

// A cgroup path checked as runc's cgroupfs driver takes it: made clean
// ("a//b/" is "a/b"); ".." is refused.
Result<std::string> clean_path(std::string_view path);

class Cgroup {
 public:
  struct Dir {
    const Hierarchy* hierarchy;
    std::string path;  // absolute directory, e.g. /sys/fs/cgroup/memory/c1
  };

  // `path` in every hierarchy of `layout` (which must outlive the Cgroup):
  // absolute from the hierarchy's top, relative under this process's own
  // cgroup there, as runc does.
  static Result<Cgroup> resolve(const Layout& layout, std::string_view path);

  // Makes the directories (and missing parents). cgroup v1 cpuset
  // directories get their parent's cpus and mems (a new one has none, and
  // no process could join it); on v2 the parents delegate the controllers
  // (not in the hybrid layout: its cgroup2 mount holds no limit of ours,
  // and its root's subtree_control is the host's).
  Status create() const;
  // Moves `pid` (all its threads) into the cgroup in every hierarchy.
  Status join(pid_t pid) const;
  // Writes `limits` where their controllers are; fails naming the file.
  Status set(const Limits& limits) const;
  // The memory controller's usage in bytes (v1 memory.usage_in_bytes, v2
  // memory.current).
  Result<int64_t> memory_usage() const;
  // The processes in it, in any hierarchy (each once).
  std::vector<pid_t> pids() const;
  // Removes the directories (not the parents, as runc); ones already gone
  // are fine. Fails, naming them, while processes are still in it.
  Status remove() const;

  const std::string& path() const { return path_; }
  const std::vector<Dir>& dirs() const { return dirs_; }
  // The directory holding `controller`'s files; "" when none is mounted.
  std::string dir_of(std::string_view controller) const;

 private:
  std::string path_;
  Mode mode_ = Mode::kV1;
  std::vector<Dir> dirs_;
};

}  // namespace runvm::cgroup
