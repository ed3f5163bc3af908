// The container's cgroup in the guest's cgroup2 hierarchy: <root>/<id>, with
// every controller the guest kernel has enabled for it, so the container
// sees its usual files; linux.resources that belong inside the guest are
// written there (pids.max, hugetlb.<size>.max, memory.max, cpu.max,
// cpu.weight). memory.max is kept a little under the guest's RAM even
// without a limit, so a container that runs out is OOM-killed in its cgroup
// (counted in memory.events, reported with its exit) rather than starving
// the agent and the guest kernel. The container process moves itself in and
// unshares a cgroup namespace rooted there (process_init.h), so a cgroup
// mount in the container shows its own limits at the top; exec'd processes
// join the same cgroup. The VM itself is sized from the same resources on
// the host (spec/vm_sizing.h). The directory is removed on destruction when
// it is empty.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "guest/protocol/container_messages.h"
#include "guest/protocol/linux_spec.h"
#include "spec/base/result.h"

namespace runvm::agent {

// A container cgroup made before any container asks for one, while the VM
// waits (an idle pool unit, or a cold VM between its hello and the create):
// under TCG, enabling the root's controllers and the mkdir of a cgroup with
// all of them are ~9 ms, the costliest step of a create, which a pool unit's
// claim then no longer pays. cgroup v2 cannot rename a cgroup, so the spare
// keeps its name ("spare-1", never a cgroup_name()): a container's cgroup is
// named by its id only when made at create. Used once: the first create takes
// it; one never taken is removed with this object.
class CgroupSpare {
 public:
  CgroupSpare() = default;
  CgroupSpare(const CgroupSpare&) = delete;
  CgroupSpare& operator=(const CgroupSpare&) = delete;
  ~CgroupSpare();
  // Enables the controllers of `root` (a cgroup2 mount) for its children and
  // makes the spare below it. Best effort: without one, create makes its own.
  Status make(const std::string& root);
  struct Taken {
    std::string path;
    std::set<std::string> available;  // the root's controllers, read at make()
    uint64_t memory_max = 0;          // memory.max as written at make() (no limit); 0: none
  };
  // The spare, handed over once; nullopt when there is none (left).
  std::optional<Taken> take();

 private:
  std::optional<Taken> spare_;
};

class ContainerCgroup {
 public:
  // `root` empty: no cgroups (host-side tests); asking for limits then fails.
  // `guest_ram`: the guest's RAM in bytes (0: the kernel's total, sysinfo).
  // `spare`: a cgroup made ahead below `root`, adopted rather than made.
  static Result<ContainerCgroup> create(const std::string& root, const std::string& id,
                                        const proto::LinuxSpec& spec, uint64_t guest_ram = 0,
                                        CgroupSpare* spare = nullptr);

  ContainerCgroup() = default;
  ContainerCgroup(ContainerCgroup&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  ContainerCgroup& operator=(ContainerCgroup&&) = delete;
  ContainerCgroup(const ContainerCgroup&) = delete;
  ~ContainerCgroup();

  // The directory in the agent's mount namespace; empty: none.
  const std::string& path() const { return path_; }
  // Another owner took the directory over: it is no longer removed here.
  void release() { path_.clear(); }
  // Processes of the cgroup the OOM killer killed so far (memory.events
  // oom_kill); 0 without a cgroup or memory controller.
  uint64_t oom_kills() const;
  // A live update of memory.max: `limit` (none: unlimited) capped under
  // `guest_ram` as at create. Fails without a memory controller.
  Status set_memory_max(std::optional<uint64_t> limit, uint64_t guest_ram);
  // A live update of cpu.max (quota and period together), cpu.weight and
  // pids.max; absent ones stay. Errors name the runtime-spec field.
  Status update(const proto::UpdateResources& u);
  // cgroup v2's freezer: cgroup.freeze, and whether cgroup.events says
  // "frozen 1" yet (the kernel freezes asynchronously).
  Status set_frozen(bool frozen);
  Result<bool> frozen() const;

 private:
  explicit ContainerCgroup(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// The container's memory.max: its limit (none: unlimited), at most the
// guest's RAM less what the agent and the guest kernel keep for themselves.
uint64_t container_memory_max(std::optional<uint64_t> limit, uint64_t guest_ram);

// memory.events' oom_kill count; nullopt when the line is missing or bad.
std::optional<uint64_t> parse_oom_kills(std::string_view memory_events);
// The number after `key` on its line of a cgroup "key value" file
// (memory.events, cgroup.events); nullopt when missing or bad.
std::optional<uint64_t> parse_events_value(std::string_view events, std::string_view key);

// The container's cgroup directory name: runvm-<id>, unique per id (one VM
// may hold several containers) and within NAME_MAX.
std::string cgroup_name(const std::string& id);

// In a child of the agent, before it leaves the agent's mount namespace:
// moves the calling process into `dir` and unshares a cgroup namespace
// rooted there. No-op when `dir` is empty.
Status enter_cgroup(const std::string& dir);

}  // namespace runvm::agent
