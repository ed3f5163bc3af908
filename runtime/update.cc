// `runvm update`: runc's resource update. What changes live
// (update_request.h, LivePlan): memory.limit (balloon, guest and host
// cgroup), cpu quota/period/shares and pids.limit (guest cgroup; cpu also
// the host's), cpu.cpus (QEMU's vCPU threads, host cpuset). Other fields
// are fixed at boot: only updates repeating them succeed. Successful
// changes are recorded in the config snapshot (config_snapshot.h).
#include <getopt.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "runtime/config_snapshot.h"
#include "runtime/container.h"
#include "runtime/host_cgroup.h"
#include "runtime/pool_unit.h"
#include "runtime/update_request.h"
#include "runtime/verbs.h"
#include "spec/base/state_layout.h"
#include "spec/vm_sizing.h"

namespace runvm::cli {

namespace {

// runc update's flags, all taking a value (index into this table = getopt val - kFirst).
constexpr const char* kFlags[] = {
    "blkio-weight",  "cpu-period",         "cpu-quota",   "cpu-rt-period", "cpu-rt-runtime",
    "cpu-share",     "cpuset-cpus",        "cpuset-mems", "kernel-memory", "kernel-memory-tcp",
    "memory",        "memory-reservation", "memory-swap", "pids-limit",    "l3-cache-schema",
    "mem-bw-schema", "cpu-idle",
};
constexpr int kFirst = 1000;

// How long a lowered memory limit waits for the balloon to return the
// guest's pages before the host cgroup's limit follows.
constexpr std::chrono::seconds kMemorySettle{10};

// After the VM refused a CPU update: the host cgroup back to the
// container's values (best effort: the error is the VM's).
void set_back(HostCgroupUpdate& host, const std::optional<oci::Resources>& current) {
  if (!host.active()) return;
  cgroup::Limits l;
  const oci::CpuResources* cpu = current && current->cpu ? &*current->cpu : nullptr;
  l.cpu_quota_us = cpu && cpu->quota ? *cpu->quota : -1;
  l.cpu_period_us = cpu && cpu->period ? *cpu->period : 100000;
  if (cpu && cpu->shares) l.cpu_shares = *cpu->shares;
  if (cpu && !cpu->cpus.empty()) l.cpuset_cpus = cpu->cpus;
  (void)host.set(l);
}

void update_usage(FILE* out) {
  fprintf(out,
          "usage: runvm update [options] CONTAINER_ID\n\n"
          "Updates a container's resources live: the memory limit (up to the size the\n"
          "microVM booted with: its balloon), cpu quota, period and shares, the pids\n"
          "limit (the guest's cgroup and the host's) and cpuset-cpus (QEMU's vCPU\n"
          "threads). The vCPU count and the other limits are fixed at boot: an update\n"
          "that repeats the container's values succeeds, any other change fails\n"
          "naming the field.\n\n"
          "  -r, --resources FILE   LinuxResources JSON ('-' reads stdin); flags are\n"
          "                         then ignored, as in runc\n"
          "  runc's flags: --blkio-weight --cpu-period --cpu-quota --cpu-rt-period\n"
          "  --cpu-rt-runtime --cpu-share --cpuset-cpus --cpuset-mems --kernel-memory\n"
          "  --kernel-memory-tcp --memory --memory-reservation --memory-swap\n"
          "  --pids-limit --l3-cache-schema --mem-bw-schema --cpu-idle\n");
}

Result<std::string> read_resources(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path);
    if (!in) return errno_error("open " + path);
    ss << in.rdbuf();
  }
  return ss.str();
}

}  // namespace

Result<int> verb_update(GlobalOptions& g, int argc, char** argv) {
  std::vector<option> opts;
  for (size_t i = 0; i < std::size(kFlags); ++i)
    opts.push_back({kFlags[i], required_argument, nullptr, kFirst + static_cast<int>(i)});
  opts.push_back({"resources", required_argument, nullptr, 'r'});
  opts.push_back({"help", no_argument, nullptr, 'h'});
  opts.push_back({nullptr, 0, nullptr, 0});
  std::string resources_file;
  std::vector<std::pair<std::string, std::string>> flags;
  int c;
  while ((c = getopt_long(argc, argv, "r:h", opts.data(), nullptr)) != -1) {
    if (c == 'r') {
      resources_file = optarg;
    } else if (c == 'h') {
      update_usage(stdout);
      return 0;
    } else if (c >= kFirst && c < kFirst + static_cast<int>(std::size(kFlags))) {
      flags.emplace_back(kFlags[c - kFirst], optarg);
    } else {
      return make_error(std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  g.subject = argv[optind];

  std::vector<ResourceUpdate> updates;
  if (!resources_file.empty()) {
    auto text = RUNVM_TRY(read_resources(resources_file));
    updates = RUNVM_TRY(parse_resources_json(text).context("--resources"));
  } else {
    for (const auto& [flag, value] : flags)
      if (auto u = RUNVM_TRY(update_from_flag(flag, value))) updates.push_back(*u);
  }
  updates = RUNVM_TRY(drop_swap_without_effect(std::move(updates)));
  auto ct = RUNVM_TRY(load_container(g, argv[optind]));
  auto lock = RUNVM_TRY(ct.dir.lock());
  if (ct.state.status == oci::Status::kStopped) return make_error("container not running");
  auto config = RUNVM_TRY(load_config_snapshot(ct.dir));
  std::optional<oci::Resources> current;
  if (config.linux_) current = config.linux_->resources;
  // Everything is checked before anything changes; fixed fields must repeat
  // the container's value.
  LivePlan plan = RUNVM_TRY(plan_live_update(updates, current));
  if (plan.empty()) return 0;
  // The guest's agent applies the limits: with the vCPUs stopped it would
  // answer only after a resume, long after the request timed out.
  if (ct.state.status == oci::Status::kPaused)
    return make_error("container is paused: resume it to change its resources");
  // A pod member has no host cgroup of its own: the sandbox's holds the VM.
  // A container of the warm pool (runvm-pool(8)) is its unit's one member:
  // the VM, booted before it, keeps its RAM and vCPU pinning as a pod's,
  // but it is the container's alone, in the container's host cgroup, whose
  // CPU limits follow the guest's as a cold start's do.
  bool claimed = ct.state.shim.extra.count(pool::kUnitExtra) > 0;
  bool member = !claimed && !ct.state.shim.socket.empty() &&
                ct.state.shim.socket != ct.dir.socket(layout::kShimSocket);
  if (claimed && !plan.cpus.empty())
    return make_error(
        "cpu.cpus: cannot change for a container of the warm pool (its VM's vCPU threads are its "
        "pool unit's)",
        ENOTSUP);
  HostCgroupUpdate host;
  if (!member) host = RUNVM_TRY(HostCgroupUpdate::open(g, config));
  // What changed so far goes into the config snapshot, also when a later
  // step fails, so that state and the next update compare against it.
  std::vector<ResourceUpdate> done;
  auto record = [&](std::initializer_list<std::string_view> fields) {
    for (const auto& c : plan.changes)
      for (auto f : fields)
        if (c.field == f) done.push_back(c);
  };
  auto finish = [&](Status s) -> Status {
    if (!done.empty())
      if (auto saved = save_resource_updates(ct.dir, done); !saved.ok()) return s.ok() ? saved : s;
    return s;
  };

  // CPU: the host cgroup first (it checks the cpuset against the host's
  // CPUs, as runc's write would), then the VM (vCPU threads, the guest's
  // cgroup). A VM failure sets the host back.
  cgroup::Limits host_cpu;
  host_cpu.cpu_quota_us = plan.cpu_quota;
  host_cpu.cpu_period_us = plan.cpu_period;
  host_cpu.cpu_shares = plan.cpu_shares;
  if (!plan.cpus.empty()) host_cpu.cpuset_cpus = plan.cpus;
  control::UpdateResources vm{plan.cpu_quota, plan.cpu_period, plan.cpu_shares, plan.pids_limit,
                              plan.cpus};
  if (vm.cpu_quota || vm.cpu_shares || vm.pids_limit || !vm.cpus.empty()) {
    if (host_cpu.cpuset_cpus)
      RUNVM_CHECK(host.set({.cpuset_cpus = host_cpu.cpuset_cpus}).context("cpu.cpus"));
    Status s;
    if (host_cpu.cpu_shares)
      s = host.set({.cpu_shares = host_cpu.cpu_shares}).context("cpu.shares");
    if (s.ok() && host_cpu.cpu_quota_us)
      s = host.set({.cpu_quota_us = host_cpu.cpu_quota_us, .cpu_period_us = host_cpu.cpu_period_us})
              .context("cpu.quota");
    if (s.ok()) s = shim_request(ct, vm);
    if (!s.ok()) {
      set_back(host, current);
      return std::move(s).error();
    }
    record({"cpu.quota", "cpu.period", "cpu.shares", "pids.limit", "cpu.cpus"});
  }

  // A claimed container's VM keeps its RAM (its shim sets the guest cgroup
  // only, as a pod member's), so the host limit, which covers that RAM,
  // stays too.
  if (plan.memory && claimed) {
    if (auto s = shim_request(ct, control::UpdateMemory{*plan.memory}); !s.ok())
      return finish(std::move(s)).error();
    record({"memory.limit"});
    RUNVM_CHECK(finish({}));
    return 0;
  }
  // Memory: raised on the host before the guest may use more; lowered there
  // after the balloon took it from the guest.
  if (plan.memory) {
    int64_t new_host = host_memory_for_update(g, *plan.memory);
    // systemd's limit is not read back: the one the container's current
    // limit (or its boot size) gave.
    std::optional<int64_t> old_host = host.memory_limit();
    if (!old_host && host.active()) {
      const auto& m = current ? current->memory : std::nullopt;
      if (m && m->limit && *m->limit > 0)
        old_host = host_memory_for_update(g, static_cast<uint64_t>(*m->limit));
      else if (auto vm = oci::size_vm(config, {g.config.vm.memory_mib, g.config.vm.vcpus}); vm.ok())
        old_host = cgroup::host_memory_limit(vm->memory_mib << 20, g.config.vm.overhead_mib);
    }
    bool raise = !old_host || *old_host < 0 || new_host >= *old_host;
    if (raise && host.active())
      if (auto s = host.set({.memory_bytes = new_host}); !s.ok())
        return finish(std::move(s).context("memory.limit")).error();
    if (auto s = shim_request(ct, control::UpdateMemory{*plan.memory}); !s.ok()) {
      if (raise && old_host) (void)host.set({.memory_bytes = *old_host});
      return finish(std::move(s)).error();
    }
    record({"memory.limit"});
    if (!raise) {
      RUNVM_CHECK(finish(host.lower_memory(new_host, kMemorySettle).context("memory.limit")));
      return 0;
    }
  }
  RUNVM_CHECK(finish({}));
  return 0;
}

}  // namespace runvm::cli
