// `runvm events`: runc's event stream for a container. "stats" events carry
// the numbers of the container's cgroup in the guest (the agent's, through
// the shim: control `stats`) in runc's slots, and the container's host
// processes (shim and QEMU, which run all of the guest) in "runvm_host";
// "oom" events, as runc's, come from the OOM kills in the container's guest
// cgroup, which the agent reports as they happen and the shim records.
#include <getopt.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "runtime/config_snapshot.h"
#include "runtime/container.h"
#include "runtime/duration.h"
#include "runtime/host_cgroup_memory.h"
#include "runtime/host_procs.h"
#include "runtime/stats_json.h"
#include "runtime/verbs.h"
#include "spec/base/log.h"
#include "spec/base/state_layout.h"

namespace runvm::cli {

namespace {

void events_usage(FILE* out) {
  fprintf(out,
          "usage: runvm events [options] CONTAINER_ID\n\n"
          "Prints the container's stats as JSON events every interval until it stops.\n\n"
          "  --interval DURATION  time between stats events (default: 5s)\n"
          "  --stats              print the stats once and exit\n");
}

// A busy guest under TCG can take a while; a stuck one must not stall the
// stream for the shim's 30 s.
constexpr int kStatsTimeoutMs = 5000;

void print_stats(const GlobalOptions& g, const Container& ct) {
  std::optional<proto::ContainerStats> guest;
  // A paused VM's agent cannot answer (its vCPUs are stopped): host numbers
  // only, as runc has none for what it cannot read.
  auto now = load_container(g, ct.state.id);
  bool paused = now.ok() && now->state.status == oci::Status::kPaused;
  if (!paused) {
    auto s = control::stats(shim_socket(ct), ct.state.id, kStatsTimeoutMs);
    if (s.ok())
      guest = std::move(*s);
    else
      log::warn("events: no guest stats for " + ct.state.id + ": " + s.error().message);
  }
  auto shim = static_cast<pid_t>(ct.state.shim.pid);
  auto u = host_usage(process_tree(shim));
  // Without a cgroupsPath the shim is in its caller's cgroup: not the
  // container's numbers.
  std::optional<HostCgroupMemory> cg;
  auto config = load_config_snapshot(ct.dir);
  if (config.ok() && config->linux_ && !config->linux_->cgroups_path.empty())
    cg = host_cgroup_memory(shim);
  std::string line = stats_event_json(ct.state.id, guest ? &*guest : nullptr, u, cg);
  fwrite(line.data(), 1, line.size(), stdout);
  fflush(stdout);
}

// The OOM kills the shim recorded so far (layout::kOomKillsFile).
uint64_t oom_kills(const ContainerDir& dir) {
  std::ifstream in(dir.file(layout::kOomKillsFile));
  uint64_t n = 0;
  return in >> n ? n : 0;
}

void print_oom(const std::string& id) {
  std::string line = oom_event_json(id);
  fwrite(line.data(), 1, line.size(), stdout);
  fflush(stdout);
}

}  // namespace

Result<int> verb_events(GlobalOptions& g, int argc, char** argv) {
  int64_t interval_ns = 5'000'000'000;
  bool once = false;
  static const option opts[] = {{"interval", required_argument, nullptr, 'i'},
                                {"stats", no_argument, nullptr, 's'},
                                {"help", no_argument, nullptr, 'h'},
                                {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, nullptr)) != -1) {
    switch (c) {
      case 'i':
        interval_ns = RUNVM_TRY(parse_go_duration(optarg).context("--interval"));
        break;
      case 's':
        once = true;
        break;
      case 'h':
        events_usage(stdout);
        return 0;
      default:
        return make_error(std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  g.subject = argv[optind];
  if (interval_ns <= 0) return make_error("duration interval must be greater than 0");
  auto ct = RUNVM_TRY(load_container(g, argv[optind]));
  if (ct.state.status == oci::Status::kStopped)
    return make_error("container with id " + ct.state.id + " is not running");
  if (once) {
    print_stats(g, ct);
    return 0;
  }
  // runc's stream ends when the container's cgroup goes; ours when its shim
  // does. OOM kills are looked for more often than stats are printed, so
  // they come out about when they happen, as runc's do.
  constexpr std::chrono::milliseconds kOomPoll{100};
  using Clock = std::chrono::steady_clock;
  uint64_t ooms = oom_kills(ct.dir);
  auto next_stats = Clock::now() + std::chrono::nanoseconds(interval_ns);
  while (true) {
    auto now = Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(kOomPoll, next_stats - now));
    bool alive = shim_alive(ct.state);
    for (uint64_t n = oom_kills(ct.dir); ooms < n; ++ooms) print_oom(ct.state.id);
    if (!alive) return 0;
    if (Clock::now() >= next_stats) {
      print_stats(g, ct);
      next_stats += std::chrono::nanoseconds(interval_ns);
    }
  }
}

}  // namespace runvm::cli
