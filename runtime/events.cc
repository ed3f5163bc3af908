// `runvm events`: runc's event stream for a container. "stats" events
// measure the container's host processes (shim and QEMU, which run all of
// the guest); "oom" events, as runc's, come from the OOM kills in the
// container's guest cgroup, which the shim records when the agent reports
// them with the container's exit.
#include <getopt.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "runtime/container.h"
#include "runtime/duration.h"
#include "runtime/host_procs.h"
#include "runtime/stats_json.h"
#include "runtime/verbs.h"
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

void print_stats(const oci::ContainerState& s) {
  auto u = host_usage(process_tree(static_cast<pid_t>(s.shim.pid)));
  std::string line = stats_event_json(s.id, u);
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
    print_stats(ct.state);
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
      print_stats(ct.state);
      next_stats += std::chrono::nanoseconds(interval_ns);
    }
  }
}

}  // namespace runvm::cli
