// `runvm update`: what was asked (runc's flags or its -r resources JSON) and
// whether runvm can do it. memory.limit is applied live by runvm update
// (through the shim); for every other field check_updates() decides: a
// microVM's vCPUs are fixed when it boots and its cgroup knobs live in the
// guest, so an update that repeats the container's current value (or sets
// nothing) succeeds, anything else fails naming the field.
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

}  // namespace runvm::cli
