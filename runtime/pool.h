// Warm start (issue 14, runvm-pool(8)): booting and draining pool units
// (their directory and claim rule: pool_unit.h), and which containers
// `create` may hand one.
//
// A unit is a runvm-shim --pool: its VM boots with the share "pod" and no
// container, and waits on its control socket. A claiming `create` makes the
// container a member of it, as a pod member of its sandbox (pod_member.h):
// its pid is a relay forked by `create`, not the unit's shim, which is
// neither the caller's child nor its descendant (conmon and containerd's
// shim must be able to reap the container's pid). The unit ends with its
// container.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "runtime/pool_unit.h"
#include "runtime/verbs.h"
#include "spec/base/unique_fd.h"
#include "spec/config.h"

namespace runvm::cli::pool {

// What a unit's VM is booted with: a container is served only by a unit of
// its class (microvm has no CPU or memory hotplug). Its name also changes
// with the kernel, initrd, QEMU and runvm binaries' identities, so units
// booted before an upgrade are never claimed but drained.
struct UnitClass {
  uint64_t memory_mib = 0;
  unsigned vcpus = 0;
  std::string accel;
  uint64_t tcg_tb_size = 0;
  std::string kernel, initrd, qemu, shim;
  std::string name() const;  // "<memory>m-<vcpus>c-<hash of the rest>"
};

// runvm.toml's [vm] class: the one `pool fill` boots.
Result<UnitClass> configured_class(const GlobalOptions& g);

// The reason `create` boots a VM of its own for `config` instead of
// claiming a unit of class `pool` (empty: it may claim). `netns_fd`: the
// network namespace the config names by path (-1: none).
std::string cold_reason(const GlobalOptions& g, const UnitClass& pool, const oci::Config& config,
                        int netns_fd, int preserve_fds);

struct FillReport {
  int started = 0, drained = 0, idle = 0;
  bool cancelled = false;  // a refill whose generation a drain ended
};
// Drains dead, stale and old units, then boots units of the configured
// class until [pool] size are idle or booting; waits for each boot.
// `watchers`: each unit it boots gets its watcher, and idle units that have
// none get one (`pool fill --no-watchers`: none; a background fill always
// has them: it never runs in a subreaper's tree, fill_in_background).
// `refill_of`: a refill asked for in that pool generation (a claim's, or a
// cold create's). Under the fill lock it boots nothing (cancelled) when a
// drain has replaced the generation since, or removed the pool: a drain
// that returned ended every unit, including those of refills asked for
// before it that had not taken the lock yet.
Result<FillReport> fill(const GlobalOptions& g, bool watchers,
                        const std::optional<std::string>& refill_of = std::nullopt);
// How long a drain waits, in all, for released units (their containers
// deleted, their VMs ending on their own) before it ends the rest itself.
inline constexpr std::chrono::milliseconds kReleasedDrainWait{10000};
// How long a drain's SIGTERM gives the shims it ends, in all, before SIGKILL.
inline constexpr std::chrono::milliseconds kDrainTermGrace{5000};
// Removes every unit no container owns (idle, booting, dead); returns how
// many. Replaces the pool's generation first (under the fill lock). Waits
// for released units (released_wait in all), then ends what is left of them.
int drain(const GlobalOptions& g, std::chrono::milliseconds released_wait = kReleasedDrainWait,
          std::chrono::milliseconds term_grace = kDrainTermGrace);
// Starts `runvm pool fill --refill <generation>` detached (own session,
// /dev/null stdio, out of the caller's cgroup), not waited for; its units
// get watchers. `generation`: the one it refills for (a claimed unit's);
// empty: the pool's current one, made if there is none yet.
// `from_claimer`: asked by a create, whose caller may be a subreaper
// (conmon, containerd's shim) that would adopt the fill and its units and
// wait for them all: then it runs under systemd (when that is init), or
// not at all. A watcher's refill (outside any claimer) runs as it is.
void fill_in_background(const GlobalOptions& g, std::string generation, bool from_claimer);

// Opens and locks the fill lock of the pool dir `pool_dir` (fill, drain).
// A drain that found the pool empty unlinks it (holding it): one locked
// after that is another file than the path's, and is opened again, so that
// no two fills run at once. `create`: make the pool dir when missing, and
// again when a cancelled refill removed it (empty) before the lock was
// opened in it; a refill or drain does not, and gets an empty fd when the
// pool is gone.
Result<UniqueFd> lock_pool(const std::string& pool_dir, bool create);

// A pool generation token: 1 to 32 lowercase hex digits.
bool valid_generation(std::string_view token);

// After `u` was claimed: the replacement. The unit's watcher (started by
// the fill that booted it, so outside any claimer's process tree) starts
// it; only when none runs does this process (fill_in_background, as a
// claimer's).
void refill_after_claim(const GlobalOptions& g, const Unit& u);

// `runvm pool watch <class>/<unit>`: a unit's watcher (runvm-pool(8)).
// Waits until the unit is claimed by a container (then starts the refill,
// unless the claimer took it) or drained, or its shim or dir is gone;
// returns then.
Status watch(const GlobalOptions& g, const std::string& rel);

// A claimed unit's shim and QEMU (`procs`: its process tree) get the
// claimer's niceness: a background fill booted it at the lowest priority.
void claim_unit_priority(const std::vector<pid_t>& procs);

// After a claimed container's relay was killed (`delete`): waits until its
// unit's shim shut its VM down, then removes what is left of the unit.
void end_claimed_unit(const GlobalOptions& g, const std::string& rel);

}  // namespace runvm::cli::pool
