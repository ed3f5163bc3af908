#include "guest/protocol/stats_messages.h"

#include <limits>

#include "guest/protocol/container_messages.h"
#include "guest/protocol/fields.h"
#include "guest/protocol/linux_spec.h"

namespace runvm::proto {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

// Absent counters are 0: an older or smaller guest kernel lacks some files.
Result<uint64_t> opt_u64(const json::Value& v, std::string_view key) {
  return fields::opt_bounded(v, key, kU64Max, 0);
}

bool valid_stat_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxStatKeyLength) return false;
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// An optional object member; absent: an empty object's worth of defaults.
Result<std::optional<json::Value>> opt_object(const json::Value& v, std::string_view key) {
  auto field = RUNVM_TRY(v.get(key));
  if (field && !field->is_object()) return field->error("must be an object");
  return field;
}

}  // namespace

void write_stats_members(json::Writer& w, const ContainerStats& s) {
  w.key("cpu").begin_object();
  w.key("usage_ns").uinteger(s.cpu_usage_ns).key("user_ns").uinteger(s.cpu_user_ns);
  w.key("system_ns").uinteger(s.cpu_system_ns).key("periods").uinteger(s.cpu_periods);
  w.key("throttled_periods").uinteger(s.cpu_throttled_periods);
  w.key("throttled_ns").uinteger(s.cpu_throttled_ns).end_object();
  w.key("memory").begin_object();
  w.key("usage").uinteger(s.memory_usage).key("max_usage").uinteger(s.memory_max_usage);
  w.key("limit").uinteger(s.memory_limit).key("failcnt").uinteger(s.memory_failcnt);
  w.key("stat").begin_object();
  for (const auto& [k, n] : s.memory_stat) w.key(k).uinteger(n);
  w.end_object().end_object();
  w.key("pids").begin_object();
  w.key("current").uinteger(s.pids_current).key("limit").uinteger(s.pids_limit).end_object();
  w.key("hugetlb").begin_array();
  for (const auto& h : s.hugetlb)
    w.begin_object()
        .key("page_size")
        .string(h.page_size)
        .key("usage")
        .uinteger(h.usage)
        .key("failcnt")
        .uinteger(h.failcnt)
        .end_object();
  w.end_array();
  w.key("oom_kills").uinteger(s.oom_kills);
}

Result<ContainerStats> parse_stats_members(const json::Value& v) {
  ContainerStats s;
  if (auto cpu = RUNVM_TRY(opt_object(v, "cpu"))) {
    s.cpu_usage_ns = RUNVM_TRY(opt_u64(*cpu, "usage_ns"));
    s.cpu_user_ns = RUNVM_TRY(opt_u64(*cpu, "user_ns"));
    s.cpu_system_ns = RUNVM_TRY(opt_u64(*cpu, "system_ns"));
    s.cpu_periods = RUNVM_TRY(opt_u64(*cpu, "periods"));
    s.cpu_throttled_periods = RUNVM_TRY(opt_u64(*cpu, "throttled_periods"));
    s.cpu_throttled_ns = RUNVM_TRY(opt_u64(*cpu, "throttled_ns"));
  }
  if (auto mem = RUNVM_TRY(opt_object(v, "memory"))) {
    s.memory_usage = RUNVM_TRY(opt_u64(*mem, "usage"));
    s.memory_max_usage = RUNVM_TRY(opt_u64(*mem, "max_usage"));
    s.memory_limit = RUNVM_TRY(opt_u64(*mem, "limit"));
    s.memory_failcnt = RUNVM_TRY(opt_u64(*mem, "failcnt"));
    if (auto stat = RUNVM_TRY(opt_object(*mem, "stat"))) {
      auto members = RUNVM_TRY(stat->as_object());
      if (members.size() > kMaxMemoryStatKeys)
        return stat->error("at most " + std::to_string(kMaxMemoryStatKeys) + " keys");
      for (const auto& [k, n] : members) {
        if (!valid_stat_key(k)) return stat->error("keys must be [a-z0-9_]+, at most 64 bytes");
        for (const auto& seen : s.memory_stat)
          if (seen.first == k) return stat->error("duplicate key " + k);
        s.memory_stat.emplace_back(k, RUNVM_TRY(n.as_uint()));
      }
    }
  }
  if (auto pids = RUNVM_TRY(opt_object(v, "pids"))) {
    s.pids_current = RUNVM_TRY(opt_u64(*pids, "current"));
    s.pids_limit = RUNVM_TRY(opt_u64(*pids, "limit"));
  }
  if (auto huge = RUNVM_TRY(v.get("hugetlb"))) {
    auto items = RUNVM_TRY(huge->as_array());
    if (items.size() > kMaxHugepageSizes)
      return huge->error("at most " + std::to_string(kMaxHugepageSizes) + " items");
    for (const auto& item : items) {
      HugetlbUsage h;
      h.page_size = RUNVM_TRY(fields::string(item, "page_size"));
      if (!valid_hugepage_size(h.page_size))
        return RUNVM_TRY(item.at("page_size")).error("must be a size such as 2MB");
      h.usage = RUNVM_TRY(opt_u64(item, "usage"));
      h.failcnt = RUNVM_TRY(opt_u64(item, "failcnt"));
      s.hugetlb.push_back(std::move(h));
    }
  }
  s.oom_kills = RUNVM_TRY(opt_u64(v, "oom_kills"));
  return s;
}

void ContainerStats::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  write_stats_members(w, *this);
}
Result<ContainerStats> ContainerStats::parse(const json::Value& v) {
  ContainerStats s = RUNVM_TRY(parse_stats_members(v));
  s.id = RUNVM_TRY(fields::u64(v, "id"));
  return s;
}

void Oom::write(json::Writer& w) const {
  w.key("container_id").string(container_id);
  w.key("oom_kills").uinteger(oom_kills);
}
Result<Oom> Oom::parse(const json::Value& v) {
  Oom m;
  m.container_id = RUNVM_TRY(parse_container_id(v));
  json::Value n = RUNVM_TRY(v.at("oom_kills"));
  m.oom_kills = RUNVM_TRY(n.as_uint());
  if (m.oom_kills == 0) return n.error("must be at least 1");
  return m;
}

}  // namespace runvm::proto
