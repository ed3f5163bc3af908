#include "runtime/stats_json.h"

#include <limits>

#include "spec/base/json.h"

namespace runvm::cli {

namespace {

// Go's omitempty for unsigned fields.
void opt_uint(json::Writer& w, const char* key, uint64_t v) {
  if (v != 0) w.key(key).uinteger(v);
}

// types.MemoryEntry: limit and failcnt always, usage and max omitempty.
void memory_entry(json::Writer& w, const char* key, uint64_t limit, uint64_t usage, uint64_t max,
                  uint64_t failcnt) {
  w.key(key).begin_object().key("limit").uinteger(limit);
  opt_uint(w, "usage", usage);
  opt_uint(w, "max", max);
  w.key("failcnt").uinteger(failcnt).end_object();
}

void cpu(json::Writer& w, const proto::ContainerStats& g) {
  w.key("cpu").begin_object().key("usage").begin_object();
  opt_uint(w, "total", g.cpu_usage_ns);
  w.key("kernel").uinteger(g.cpu_system_ns).key("user").uinteger(g.cpu_user_ns).end_object();
  w.key("throttling").begin_object();
  opt_uint(w, "periods", g.cpu_periods);
  opt_uint(w, "throttled_periods", g.cpu_throttled_periods);
  opt_uint(w, "throttled_time", g.cpu_throttled_ns);
  w.end_object().end_object();
}

uint64_t stat_of(const proto::ContainerStats& g, std::string_view key) {
  for (const auto& [k, v] : g.memory_stat)
    if (k == key) return v;
  return 0;
}

void memory(json::Writer& w, const proto::ContainerStats& g) {
  // runc (fs2): "max" is the largest uint64; swap is reported as memory
  // plus swap, as cgroup v1's memsw (the guest has no swap: the memory's).
  uint64_t limit = g.memory_limit ? g.memory_limit : std::numeric_limits<uint64_t>::max();
  w.key("memory").begin_object();
  opt_uint(w, "cache", stat_of(g, "file"));
  memory_entry(w, "usage", limit, g.memory_usage, g.memory_max_usage, g.memory_failcnt);
  memory_entry(w, "swap", limit, g.memory_usage, 0, 0);
  memory_entry(w, "kernel", 0, 0, 0, 0);
  memory_entry(w, "kernelTCP", 0, 0, 0, 0);
  if (!g.memory_stat.empty()) {
    w.key("raw").begin_object();
    for (const auto& [k, v] : g.memory_stat) w.key(k).uinteger(v);
    w.end_object();
  }
  w.end_object();
}

void host_object(json::Writer& w, const HostUsage& u, const std::optional<HostCgroupMemory>& cg) {
  w.key("runvm_host").begin_object();
  w.key("processes").uinteger(u.processes);
  w.key("cpu").begin_object().key("total").uinteger(u.user_ns + u.kernel_ns);
  w.key("kernel").uinteger(u.kernel_ns).key("user").uinteger(u.user_ns).end_object();
  w.key("rss").uinteger(u.rss_bytes);
  if (cg) {
    w.key("cgroup").begin_object().key("memory").begin_object();
    w.key("usage").uinteger(cg->usage).key("limit").uinteger(cg->limit);
    w.end_object().end_object();
  }
  w.end_object();
}

}  // namespace

std::string stats_event_json(const std::string& id, const proto::ContainerStats* guest,
                             const HostUsage& host,
                             const std::optional<HostCgroupMemory>& host_cgroup) {
  static const proto::ContainerStats kNone{};
  const proto::ContainerStats& g = guest ? *guest : kNone;
  json::Writer w;
  w.begin_object().key("type").string("stats").key("id").string(id);
  w.key("data").begin_object();
  cpu(w, g);

  w.key("cpuset").begin_object();
  for (const char* k :
       {"cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
        "memory_spread_slab", "memory_pressure", "sched_load_balance"})
    w.key(k).uinteger(0);
  w.key("sched_relax_domain_level").integer(0).end_object();

  if (guest) {
    memory(w, g);
  } else {
    w.key("memory").begin_object();
    for (const char* k : {"usage", "swap", "kernel", "kernelTCP"}) memory_entry(w, k, 0, 0, 0, 0);
    w.end_object();
  }

  w.key("pids").begin_object();
  opt_uint(w, "current", g.pids_current);
  opt_uint(w, "limit", g.pids_limit);
  w.end_object();
  w.key("blkio").begin_object().end_object();
  // types.Hugetlb per page size: usage and max omitempty, failcnt always
  // (max, the peak, cgroup2 does not keep).
  w.key("hugetlb").begin_object();
  for (const auto& h : g.hugetlb) {
    w.key(h.page_size).begin_object();
    opt_uint(w, "usage", h.usage);
    w.key("failcnt").uinteger(h.failcnt).end_object();
  }
  w.end_object();
  w.key("intel_rdt").begin_object().end_object();
  w.key("network_interfaces").null();
  host_object(w, host, host_cgroup);
  w.end_object().end_object();
  return w.str() + "\n";
}

std::string oom_event_json(const std::string& id) {
  json::Writer w;
  w.begin_object().key("type").string("oom").key("id").string(id).end_object();
  return w.str() + "\n";
}

}  // namespace runvm::cli
