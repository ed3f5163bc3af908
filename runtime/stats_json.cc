#include "runtime/stats_json.h"

#include "spec/base/json.h"

namespace runvm::cli {

namespace {

// Go's omitempty for unsigned fields.
void opt_uint(json::Writer& w, const char* key, uint64_t v) {
  if (v != 0) w.key(key).uinteger(v);
}

// types.MemoryEntry: limit and failcnt always, usage and max omitempty.
void memory_entry(json::Writer& w, const char* key, uint64_t usage) {
  w.key(key).begin_object().key("limit").uinteger(0);
  opt_uint(w, "usage", usage);
  w.key("failcnt").uinteger(0).end_object();
}

}  // namespace

std::string stats_event_json(const std::string& id, const HostUsage& u) {
  json::Writer w;
  w.begin_object().key("type").string("stats").key("id").string(id);
  w.key("data").begin_object();

  w.key("cpu").begin_object().key("usage").begin_object();
  opt_uint(w, "total", u.user_ns + u.kernel_ns);
  w.key("kernel").uinteger(u.kernel_ns).key("user").uinteger(u.user_ns).end_object();
  w.key("throttling").begin_object().end_object().end_object();

  w.key("cpuset").begin_object();
  for (const char* k :
       {"cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
        "memory_spread_slab", "memory_pressure", "sched_load_balance"})
    w.key(k).uinteger(0);
  w.key("sched_relax_domain_level").integer(0).end_object();

  w.key("memory").begin_object();
  memory_entry(w, "usage", u.rss_bytes);
  memory_entry(w, "swap", 0);
  memory_entry(w, "kernel", 0);
  memory_entry(w, "kernelTCP", 0);
  w.end_object();

  w.key("pids").begin_object();
  opt_uint(w, "current", u.processes);
  w.end_object();
  w.key("blkio").begin_object().end_object();
  w.key("hugetlb").begin_object().end_object();
  w.key("intel_rdt").begin_object().end_object();
  w.key("network_interfaces").null();
  w.end_object().end_object();
  return w.str() + "\n";
}

std::string oom_event_json(const std::string& id) {
  json::Writer w;
  w.begin_object().key("type").string("oom").key("id").string(id).end_object();
  return w.str() + "\n";
}

}  // namespace runvm::cli
