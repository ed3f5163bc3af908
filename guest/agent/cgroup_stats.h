// What `stats` reports (PROTOCOL.md): the numbers of a container's cgroup2
// directory in the guest, read from its interface files the way runc reads
// a cgroup2 container (libcontainer/cgroups/fs2): cpu.stat, memory.current,
// memory.peak, memory.max, memory.events, memory.stat, pids.current,
// pids.max and hugetlb.<size>.current/.events. A file the guest kernel lacks
// (a controller not enabled, an older kernel) leaves its numbers 0; lines
// that do not parse are skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "guest/protocol/stats_messages.h"
#include "spec/base/result.h"

namespace runvm::agent {

// "key value" lines (cpu.stat, memory.stat, memory.events); at most
// `max_keys` entries, keys [a-z0-9_] of at most 64 bytes, values u64.
std::vector<std::pair<std::string, uint64_t>> parse_flat_keyed(std::string_view text,
                                                               size_t max_keys = 128);

// A limit file ("max" or a number, and a newline): 0 for "max" (none),
// nullopt when neither.
std::optional<uint64_t> parse_cgroup_limit(std::string_view text);

// The numbers of the cgroup directory `dir` (id 0: the caller sets it).
// Fails only when `dir` itself is gone.
Result<proto::ContainerStats> read_cgroup_stats(const std::string& dir);

}  // namespace runvm::agent
