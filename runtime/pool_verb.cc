// `runvm pool fill|status|drain` (runvm-pool(8)): the warm pool's units.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "runtime/host_procs.h"
#include "runtime/pool.h"
#include "runtime/verbs.h"

namespace runvm::cli {

namespace {

void pool_usage(FILE* out) {
  fprintf(out,
          "usage: runvm pool fill|status|drain\n\n"
          "The warm pool of booted microVMs that `runvm create` claims ([pool] in runvm.toml).\n\n"
          "  fill    drain dead, stale and old units; boot units of runvm.toml's VM class\n"
          "          until [pool] size are idle (waits for their boot)\n"
          "  status  one line per unit: class, state, age, and a live unit's PSS and CPU\n"
          "          time (its runvm-shim, QEMU and watcher) and its watcher's pid\n"
          "  drain   end every unit no container claimed and remove it\n");
}

// Proportional set size in KiB, from smaps_rollup (0 when unreadable).
uint64_t pss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Pss:", 0) == 0) return strtoull(line.c_str() + 4, nullptr, 10);
  return 0;
}

void print_status(const GlobalOptions& g) {
  auto current = pool::configured_class(g);
  printf("%-34s %-18s %-8s %8s %10s %10s %8s\n", "CLASS", "UNIT", "STATE", "AGE", "PSS_MIB",
         "CPU_S", "WATCHER");
  for (const pool::Unit& u : pool::list_units(g.root)) {
    std::string state = pool::to_string(u.state);
    if (u.state == pool::UnitState::kClaimed) state += " by " + u.owner;
    if (current.ok() && u.cls != current->name() && u.state != pool::UnitState::kClaimed)
      state += " (stale)";
    std::string pss = "-", cpu = "-", watcher = "-";
    if (u.watcher_alive()) watcher = std::to_string(u.watcher->pid);
    if (u.alive()) {
      auto pids = process_tree(u.record->pid);
      // An idle unit's cost includes its watcher's.
      if (u.watcher_alive()) pids.push_back(u.watcher->pid);
      uint64_t kib = 0;
      for (pid_t p : pids) kib += pss_kib(p);
      HostUsage use = host_usage(pids);
      char buf[32];
      snprintf(buf, sizeof buf, "%.1f", static_cast<double>(kib) / 1024);
      pss = buf;
      snprintf(buf, sizeof buf, "%.2f", static_cast<double>(use.user_ns + use.kernel_ns) / 1e9);
      cpu = buf;
    }
    printf("%-34s %-18s %-8s %7llds %10s %10s %8s\n", u.cls.c_str(), u.name.c_str(), state.c_str(),
           static_cast<long long>(u.age_s), pss.c_str(), cpu.c_str(), watcher.c_str());
  }
}

}  // namespace

Result<int> verb_pool(GlobalOptions& g, int argc, char** argv) {
  // Internal: a unit's watcher, started by the fill that boots the unit.
  if (argc == 3 && strcmp(argv[1], "watch") == 0) {
    g.subject = argv[2];
    RUNVM_CHECK(pool::watch(g, argv[2]));
    return 0;
  }
  // Internal: a background fill (pool.h: fill_in_background()):
  // `fill [--no-watchers] --refill <generation>`.
  if (argc >= 3 && strcmp(argv[1], "fill") == 0) {
    bool watchers = true;
    std::optional<std::string> refill_of;
    for (int i = 2; i < argc; ++i) {
      if (strcmp(argv[i], "--no-watchers") == 0)
        watchers = false;
      else if (strcmp(argv[i], "--refill") == 0 && i + 1 < argc &&
               pool::valid_generation(argv[i + 1]))
        refill_of = argv[++i];
      else
        return make_error(std::string("pool fill: unknown argument ") + argv[i]);
    }
    g.subject = "fill";
    auto r = RUNVM_TRY(pool::fill(g, watchers, refill_of));
    if (r.cancelled)
      printf("cancelled: the pool was drained since this refill was asked for\n");
    else
      printf("started %d, drained %d, %d idle or booting\n", r.started, r.drained, r.idle);
    return 0;
  }
  if (argc != 2) {
    pool_usage(stderr);
    return make_error("requires exactly one argument: fill, status or drain");
  }
  std::string what = argv[1];
  if (what == "--help" || what == "-h") {
    pool_usage(stdout);
    return 0;
  }
  g.subject = what;
  if (what == "fill") {
    auto r = RUNVM_TRY(pool::fill(g, true));
    printf("started %d, drained %d, %d idle or booting\n", r.started, r.drained, r.idle);
    return 0;
  }
  if (what == "status") {
    print_status(g);
    return 0;
  }
  if (what == "drain") {
    printf("drained %d\n", pool::drain(g));
    return 0;
  }
  return make_error("unknown subcommand (fill, status or drain)");
}

}  // namespace runvm::cli
