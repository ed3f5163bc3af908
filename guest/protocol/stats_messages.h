// Resource-use messages of the control protocol (PROTOCOL.md, "stats" and
// "oom"): the host asks for a container's guest cgroup numbers (`stats`,
// answered by a `stats` reply) and the agent reports OOM kills in a
// container's cgroup as they happen (`oom`, an event). Same conventions as
// messages.h: kType, write(), parse() for hostile input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "guest/protocol/container_messages.h"
#include "spec/base/json.h"
#include "spec/base/result.h"

namespace runvm::proto {

// Bounds on a stats reply (a 6.1 kernel's memory.stat has ~45 keys).
inline constexpr size_t kMaxMemoryStatKeys = 128;
inline constexpr size_t kMaxStatKeyLength = 64;
inline constexpr size_t kMaxHugepageSizes = 8;

// host -> agent: the numbers of the container's guest cgroup.
struct StatsKind {
  static constexpr std::string_view kType = "stats";
};
using StatsRequest = ContainerRequest<StatsKind>;

// One huge page size's hugetlb.<size>.current and the "max" count of
// hugetlb.<size>.events (allocations refused at the limit).
struct HugetlbUsage {
  std::string page_size;  // "2MB": proto::valid_hugepage_size
  uint64_t usage = 0;
  uint64_t failcnt = 0;
  bool operator==(const HugetlbUsage&) const = default;
};

// agent -> host: the reply to StatsRequest (its id). Values as the guest's
// cgroup2 files give them, times in nanoseconds; a limit of 0 is none
// ("max"); a file the guest kernel lacks leaves its numbers 0.
struct ContainerStats {
  static constexpr std::string_view kType = "stats";
  uint64_t id = 0;
  // cpu.stat: usage_usec, user_usec, system_usec, nr_periods,
  // nr_throttled, throttled_usec (in ns here).
  uint64_t cpu_usage_ns = 0, cpu_user_ns = 0, cpu_system_ns = 0;
  uint64_t cpu_periods = 0, cpu_throttled_periods = 0, cpu_throttled_ns = 0;
  // memory.current, memory.peak, memory.max, memory.events "max".
  uint64_t memory_usage = 0, memory_max_usage = 0, memory_limit = 0, memory_failcnt = 0;
  // memory.stat, in the kernel's order; keys [a-z0-9_], at most 64 bytes.
  std::vector<std::pair<std::string, uint64_t>> memory_stat;
  uint64_t pids_current = 0, pids_limit = 0;  // pids.current, pids.max
  std::vector<HugetlbUsage> hugetlb;
  uint64_t oom_kills = 0;  // memory.events oom_kill
  void write(json::Writer& w) const;
  static Result<ContainerStats> parse(const json::Value& v);
  bool operator==(const ContainerStats&) const = default;
};

// agent -> host, unsolicited (no id): the guest's OOM killer killed a
// process of the container's cgroup while the container runs. `oom_kills`
// is the cgroup's count so far (memory.events oom_kill), so a lost or
// coalesced event is caught up by the next.
struct Oom {
  static constexpr std::string_view kType = "oom";
  std::string container_id;
  uint64_t oom_kills = 0;  // at least 1
  void write(json::Writer& w) const;
  static Result<Oom> parse(const json::Value& v);
  bool operator==(const Oom&) const = default;
};

// The stats object's members without "type" and "id": shared with the
// shim's control reply (shim/client/control.h), which carries the same.
void write_stats_members(json::Writer& w, const ContainerStats& s);
Result<ContainerStats> parse_stats_members(const json::Value& v);

}  // namespace runvm::proto
