// Warm start (issue 14, runvm-pool(8)): microVMs booted ahead of time by
// `runvm pool fill`, each claimed whole by one `runvm create`. This file is
// the pool's directory and its claim rule; pool.h starts and drains units.
//
// Under --root ('@' is in no container id, so `list` never sees them):
//   @pool/fill.lock            held by a fill while it counts and boots units
//   @pool/generation           a random token, made by the first fill (or
//                              refill request) and replaced by each drain: a
//                              refill asked for under one token boots
//                              nothing once a drain replaced it (pool.h)
//   @pool/<class>/<unit>/      a unit's state dir (ContainerDir of id
//                              "@pool/<class>/<unit>", sockets in @s/<hash>/):
//     unit    "PID START CREATED\n": its runvm-shim (pid and /proc start
//             time, so a recycled pid is never taken for it) and when it was
//             started (seconds since the epoch); written once the shim runs
//     generation  the pool's generation token it was booted in: its
//             refill after a claim is for that generation only
//     ready   its VM booted and its agent answered: it may be claimed
//     owner   made with O_EXCL by whoever takes the unit: the id of the
//             container that claimed it, or "@drain". Exactly one taker
//             ever succeeds; a unit is never returned to the pool.
//     watcher "PID START CREATED\n" of its watcher (`runvm pool watch`,
//             pool_watch.h), started by the fill with the shim: it runs the
//             refill once the unit is claimed
//     refill  made with O_EXCL by whoever starts the refill after the
//             claim (the watcher, or the claiming create when no watcher
//             runs): one refill per claim
//     pod/    the share "pod" of its VM (as a pod sandbox's); the logs
//   A unit's runvm-shim removes both dirs when its VM is down.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/container_dir.h"

namespace runvm::cli::pool {

inline constexpr char kPoolDir[] = "@pool";
inline constexpr char kFillLock[] = "fill.lock";
inline constexpr char kGenerationFile[] = "generation";
inline constexpr char kUnitFile[] = "unit";
inline constexpr char kReadyFile[] = "ready";
inline constexpr char kOwnerFile[] = "owner";
inline constexpr char kDrainOwner[] = "@drain";
inline constexpr char kWatcherFile[] = "watcher";
inline constexpr char kRefillFile[] = "refill";
// Made by the delete that let go of a claimed unit (pool_release.h).
inline constexpr char kReleasedFile[] = "released";
// A claimed container's state (ShimInfo::extra): its unit, "<class>/<unit>".
inline constexpr char kUnitExtra[] = "pool-unit";
// A unit dir without a unit file this long after it was made: its filler
// died before the shim ran.
inline constexpr std::chrono::seconds kStartingTimeout{60};
// A unit taken this long ago whose taker is gone (no container of the
// owner's id, or a drain's that died) while its shim still runs: the claim
// was abandoned (its create was killed between the take and its state).
inline constexpr std::chrono::seconds kAbandonedClaim{60};
// A released unit's VM may outlive its container's delete while a slow
// reader takes the last output (at most 5 minutes, sandbox_members.cc):
// only after this is it taken for abandoned.
inline constexpr std::chrono::seconds kReleasedGrace{360};

struct UnitRecord {
  pid_t pid = 0;
  uint64_t start_time = 0;
  int64_t created_s = 0;
  bool operator==(const UnitRecord&) const = default;
};
// Strict: three decimal numbers separated by single spaces, a newline; the
// pid > 0. Anything else (a torn or hostile file) is nullopt.
std::optional<UnitRecord> parse_unit_record(std::string_view text);
std::string format_unit_record(const UnitRecord& r);

enum class UnitState {
  kStarting,  // no unit file yet
  kBooting,   // its shim runs, its VM is not up yet
  kIdle,      // claimable
  kClaimed,   // owned (by a container, or a drain)
  kDead,      // its shim is gone (killed, crashed) and left its dirs
};
const char* to_string(UnitState s);

struct Unit {
  std::string root, cls, name;
  std::optional<UnitRecord> record;
  UnitState state = UnitState::kStarting;
  std::string owner;                  // kClaimed: who
  int64_t age_s = 0;                  // since it was started (its dir made, before a record)
  std::optional<UnitRecord> watcher;  // its watcher process, once started
  std::string generation;             // the pool generation it was booted in ("": unknown)
  int64_t owned_s = 0;                // since it was taken (its owner file made)
  int64_t released_s = -1;            // since its container let go of it; -1: not released

  std::string rel() const { return cls + "/" + name; }
  ContainerDir dir() const {
    return ContainerDir(root, std::string(kPoolDir) + "/" + cls + "/" + name);
  }
  bool alive() const;          // its shim runs (pid and start time match)
  bool watcher_alive() const;  // its watcher runs
  // Waits up to `timeout` until its shim is gone: woken by the shim's exit
  // (a pidfd), not a poll. Whether it is gone.
  bool wait_gone(std::chrono::milliseconds timeout) const;
};

// Unit::wait_gone for several units at once: up to `timeout` in all, until
// every one's shim is gone. Whether they all are.
bool wait_all_gone(const std::vector<const Unit*>& units, std::chrono::milliseconds timeout);

// True when `r` names a running process (pid and start time match; not a
// zombie).
bool running(const std::optional<UnitRecord>& r);

// The unit `<root>/@pool/<cls>/<name>` as it is now.
Unit read_unit(const std::string& root, const std::string& cls, const std::string& name);
// The unit a container's state names ("<class>/<unit>", runvm-pool(8)),
// when the name is valid and its dir exists.
std::optional<Unit> read_claimed_unit(const std::string& root, const std::string& rel);
// Every unit under the root, by class then name. `cls` non-empty: that class only.
std::vector<Unit> list_units(const std::string& root, const std::string& cls = "");

// Takes `u` for `owner`: true for exactly one caller, ever.
bool take(const Unit& u, const std::string& owner);
// The right to start the refill that replaces claimed `u`: true for exactly
// one caller, ever.
bool take_refill(const Unit& u);

// Ends the unit's shim if it still runs (SIGTERM; SIGKILL after `grace`,
// which takes QEMU with it) and its watcher (at once if no container owns
// the unit; a claimed unit's is given time to start its refill and exit)
// and removes its dirs. Whatever is still mounted
// below its dir (a claimed unit's member binds, if its shim was killed) is
// detached first: the container's rootfs is never deleted through it.
void remove_unit(const Unit& u, std::chrono::milliseconds grace);
// remove_unit of each, with one `grace` for all of them: their shims are
// told to end together, so stuck ones cost one wait, not one each.
void remove_units(const std::vector<const Unit*>& units, std::chrono::milliseconds grace);

// Claims an idle unit of class `cls` for container `id`. Units on the way
// that are dead, or idle for longer than `max_idle_s` (0: no limit), are
// taken and removed. nullopt: none left.
std::optional<Unit> claim(const std::string& root, const std::string& cls, const std::string& id,
                          uint64_t max_idle_s);

// What a fill (which holds the fill lock, so no other fill starts units)
// does with `u`: keep it; drain it (it is dead or still starting, of
// another class than `current`, or idle past `max_idle_s`; taken first, so
// never from under a claim); or remove it as an orphan (its owner is a
// drain or a container that `owner_exists` says is gone, and it is dead or
// was taken more than kAbandonedClaim ago).
enum class FillAction { kKeep, kDrain, kRemoveOrphan };
FillAction fill_action(const Unit& u, const std::string& current, uint64_t max_idle_s,
                       bool owner_exists);

}  // namespace runvm::cli::pool
