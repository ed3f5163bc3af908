// `runvm update`: what was asked (runc's flags or its -r resources JSON) and
// whether runvm can do it. plan_live_update() takes the fields that change
// live (LivePlan); for every other field check_updates() decides: a
// microVM's vCPUs are fixed when it boots, so an update that repeats the
// container's current value (or sets nothing) succeeds, anything else fails
// naming the field.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec/config.h"

namespace runvm::cli {

// One requested value, named by its runtime-spec path ("memory.limit").
struct ResourceUpdate {
  std::string field;
  std::string value;  // canonical: decimal for numbers, as given for strings
  bool operator==(const ResourceUpdate&) const = default;
};

// The set fields of a runtime-spec LinuxResources object (runc update -r).
Result<std::vector<ResourceUpdate>> parse_resources_json(std::string_view json);

// docker/go-units RAMInBytes: "512m", "1.5g", "1024" (binary multiples).
Result<int64_t> parse_ram_in_bytes(std::string_view text);

// runc's flag (without "--") and its value to an update; nullopt when the
// value leaves the field unchanged (runc treats 0/"" so). Errors name the flag.
Result<std::optional<ResourceUpdate>> update_from_flag(std::string_view flag,
                                                       const std::string& value);

// memory.swap beside a memory.limit (Podman sends both): the guest has no
// swap, so -1 or a value of at least the limit asks for nothing more, as on
// a host without swap, and is dropped. Less than the limit is an error, as
// in runc (memory.swap counts memory plus swap).
Result<std::vector<ResourceUpdate>> drop_swap_without_effect(std::vector<ResourceUpdate> updates);

// Succeeds when every update repeats the value in `current` (the config the
// container was created from).
Status check_updates(const std::vector<ResourceUpdate>& updates,
                     const std::optional<oci::Resources>& current);

// What runvm update does live, checked before anything changes. memory.limit
// (the balloon, the guest's and the host's cgroup); cpu.quota and cpu.period
// (cpu.max in the guest and the host, always both: the merged values);
// cpu.shares (guest cpu.weight, host cpu.shares/weight); pids.limit (the
// guest's only, as at create: on the host it would count QEMU's threads);
// cpu.cpus (QEMU's vCPU threads re-pinned, the host cpuset). Every other
// field must repeat the current value (check_updates).
struct LivePlan {
  std::optional<uint64_t> memory;      // bytes, > 0
  std::optional<int64_t> cpu_quota;    // set with cpu_period: -1 = none
  std::optional<uint64_t> cpu_period;  // set with cpu_quota
  std::optional<uint64_t> cpu_shares;  // 2 .. 262144
  std::optional<int64_t> pids_limit;   // -1: none
  std::string cpus;                    // "": unchanged
  // The updates that change something, normalised, for the config snapshot.
  std::vector<ResourceUpdate> changes;
  bool empty() const { return changes.empty(); }
};
// Errors name the field: "cpu.period: 500 is out of range (1000 .. 1000000)".
Result<LivePlan> plan_live_update(const std::vector<ResourceUpdate>& updates,
                                  const std::optional<oci::Resources>& current);

// Sets the updated fields in `r` (the config snapshot after runvm update).
// Fields runvm does not keep in oci::Resources are skipped.
void apply_updates(oci::Resources& r, const std::vector<ResourceUpdate>& updates);

// The updates as a runtime-spec LinuxResources object (parse_resources_json
// reads it back); `base` first, each field of `more` replacing its own.
std::string resources_json(const std::vector<ResourceUpdate>& base,
                           const std::vector<ResourceUpdate>& more);

}  // namespace runvm::cli
