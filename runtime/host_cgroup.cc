#include "runtime/host_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "runtime/config_snapshot.h"
#include "spec/base/log.h"
#include "spec/vm_sizing.h"

namespace runvm::cli {
namespace {

bool wanted(const oci::Config& config) {
  return config.linux_ && !config.linux_->cgroups_path.empty();
}

Result<cgroup::Limits> limits_for(const GlobalOptions& g, const oci::Config& config) {
  cgroup::Limits l;
  // The guest's RAM as the shim will size it (spec/vm_sizing.h).
  auto vm = RUNVM_TRY(
      oci::size_vm(config, {g.config.vm.memory_mib, g.config.vm.vcpus}).context("config.json"));
  uint64_t guest = vm.memory_mib << 20;
  const auto& r = config.linux_->resources;
  if (r && r->memory && r->memory->limit && *r->memory->limit > 0)
    guest = std::max<uint64_t>(guest, static_cast<uint64_t>(*r->memory->limit));
  l.memory_bytes = cgroup::host_memory_limit(guest, g.config.vm.overhead_mib);
  if (r && r->cpu) {
    if (r->cpu->shares) l.cpu_shares = *r->cpu->shares;
    if (r->cpu->quota) l.cpu_quota_us = *r->cpu->quota;
    if (r->cpu->period) l.cpu_period_us = *r->cpu->period;
    if (!r->cpu->cpus.empty()) l.cpuset_cpus = r->cpu->cpus;
    if (!r->cpu->mems.empty()) l.cpuset_mems = r->cpu->mems;
  }
  return l;
}

}  // namespace

Result<std::unique_ptr<HostCgroup>> HostCgroup::prepare(const GlobalOptions& g,
                                                        const oci::Config& config) {
  if (!wanted(config)) return std::unique_ptr<HostCgroup>();
  const std::string& path = config.linux_->cgroups_path;
  std::unique_ptr<HostCgroup> h(new HostCgroup);
  h->limits_ = RUNVM_TRY(limits_for(g, config));
  if (g.systemd_cgroup) {
    h->unit_ =
        RUNVM_TRY(cgroup::parse_systemd_path(path).context("config.json: linux.cgroupsPath"));
    // systemd names the memory limit after the hierarchy that holds it.
    auto layout = cgroup::detect_layout();
    h->memory_v1_ = layout.ok() && layout->with("memory") && layout->with("memory")->version == 1;
    return h;
  }
  h->layout_ = std::make_unique<cgroup::Layout>(
      RUNVM_TRY(cgroup::detect_layout().context("host cgroup " + path)));
  h->cgroup_ = RUNVM_TRY(
      cgroup::Cgroup::resolve(*h->layout_, path).context("config.json: linux.cgroupsPath"));
  RUNVM_CHECK(h->cgroup_->create().context("host cgroup"));
  // From here the destructor removes it unless dismissed.
  RUNVM_CHECK(h->cgroup_->set(h->limits_).context("host cgroup " + path));
  for (const auto& d : h->cgroup_->dirs()) {
    std::string procs = d.path + "/cgroup.procs";
    UniqueFd fd(open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return errno_error("host cgroup: " + procs);
    h->procs_.push_back(std::move(fd));
  }
  log::debug("host cgroup " + path + ": memory limit " + std::to_string(*h->limits_.memory_bytes));
  return h;
}

HostCgroup::~HostCgroup() {
  procs_.clear();
  if (keep_) return;
  if (unit_) {
    // A failed create: stopping the scope kills what is in it (the shim, QEMU).
    if (scope_started_)
      if (auto r = cgroup::stop_unit(unit_->unit); !r.ok()) log::warn(r.error().message);
    return;
  }
  if (!cgroup_) return;
  // A failed create: whatever joined it (the shim, QEMU) has been killed.
  for (pid_t pid : cgroup_->pids()) kill(pid, SIGKILL);
  for (int i = 0; i < 500 && !cgroup_->pids().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (auto r = cgroup_->remove(); !r.ok()) log::warn(r.error().message);
}

ShimPlacement HostCgroup::placement() {
  ShimPlacement p;
  for (const auto& fd : procs_) p.cgroup_procs.push_back(fd.get());
  if (unit_) {
    p.place = [this](pid_t pid) -> Status {
      RUNVM_CHECK(
          cgroup::start_scope(*unit_, pid, limits_, memory_v1_).context("--systemd-cgroup"));
      scope_started_ = true;
      return {};
    };
  }
  return p;
}

Result<HostCgroupUpdate> HostCgroupUpdate::open(const GlobalOptions& g, const oci::Config& config) {
  HostCgroupUpdate h;
  if (!wanted(config)) return h;
  const std::string& path = config.linux_->cgroups_path;
  auto layout = cgroup::detect_layout();
  if (g.systemd_cgroup) {
    h.unit_ = RUNVM_TRY(cgroup::parse_systemd_path(path).context("config.json: linux.cgroupsPath"));
    h.memory_v1_ = layout.ok() && layout->with("memory") && layout->with("memory")->version == 1;
    return h;
  }
  h.layout_ =
      std::make_unique<cgroup::Layout>(RUNVM_TRY(std::move(layout).context("host cgroup " + path)));
  h.cgroup_ = RUNVM_TRY(
      cgroup::Cgroup::resolve(*h.layout_, path).context("config.json: linux.cgroupsPath"));
  return h;
}

Status HostCgroupUpdate::set(const cgroup::Limits& limits) {
  if (unit_)
    return cgroup::set_unit_limits(unit_->unit, limits, memory_v1_).context("--systemd-cgroup");
  if (!cgroup_) return {};
  return cgroup_->set(limits).context("host cgroup");
}

std::optional<int64_t> HostCgroupUpdate::memory_limit() const {
  if (!cgroup_) return std::nullopt;
  std::string dir = cgroup_->dir_of("memory");
  if (dir.empty()) return std::nullopt;
  for (const char* file : {"/memory.limit_in_bytes", "/memory.max"}) {
    std::ifstream in(dir + file);
    std::string text;
    if (!(in >> text)) continue;
    if (text == "max") return -1;
    char* end = nullptr;
    long long n = strtoll(text.c_str(), &end, 10);
    if (*end == '\0') return n;
  }
  return std::nullopt;
}

Status HostCgroupUpdate::lower_memory(int64_t bytes, std::chrono::milliseconds settle) {
  if (!cgroup_) return set({.memory_bytes = bytes});
  // v1 refuses a limit it cannot reclaim down to (EBUSY), reclaiming page
  // cache first: try it. v2 would OOM-kill instead: wait for the usage.
  const cgroup::Hierarchy* memory = layout_->with("memory");
  const bool v1 = memory && memory->version == 1;
  auto deadline = std::chrono::steady_clock::now() + settle;
  int64_t usage = 0;
  while (true) {
    usage = RUNVM_TRY(cgroup_->memory_usage().context("host cgroup"));
    if (v1 || usage <= bytes) {
      auto s = cgroup_->set({.memory_bytes = bytes});
      if (s.ok() || s.error().code != EBUSY) return std::move(s).context("host cgroup");
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return make_error("the host cgroup keeps its limit: the VM still uses " + std::to_string(usage) +
                    " bytes there, more than the new limit " + std::to_string(bytes) +
                    " (the guest's RAM plus vm.overhead_mib)");
}

int64_t host_memory_for_update(const GlobalOptions& g, uint64_t bytes) {
  return cgroup::host_memory_limit(oci::guest_mib_for_limit(bytes) << 20, g.config.vm.overhead_mib);
}

std::vector<pid_t> host_cgroup_pids(const GlobalOptions& g, const ContainerDir& dir) {
  auto config = load_config_snapshot(dir);
  if (!config.ok() || !wanted(*config) || g.systemd_cgroup) return {};
  auto layout = cgroup::detect_layout();
  if (!layout.ok()) return {};
  auto cg = cgroup::Cgroup::resolve(*layout, config->linux_->cgroups_path);
  return cg.ok() ? cg->pids() : std::vector<pid_t>{};
}

Status remove_host_cgroup(const GlobalOptions& g, const ContainerDir& dir) {
  auto config = load_config_snapshot(dir);
  if (!config.ok() || !wanted(*config)) return {};
  if (g.systemd_cgroup) {
    auto unit = cgroup::parse_systemd_path(config->linux_->cgroups_path);
    if (!unit.ok()) return {};  // create refused it: no scope
    return cgroup::stop_unit(unit->unit).context("--systemd-cgroup");
  }
  // No cgroupfs now: create could not have made one either.
  auto detected = cgroup::detect_layout();
  if (!detected.ok()) return {};
  const cgroup::Layout& layout = *detected;
  auto cg = RUNVM_TRY(cgroup::Cgroup::resolve(layout, config->linux_->cgroups_path));
  // The shim is gone; QEMU follows it (PR_SET_PDEATHSIG) a moment later.
  // Nothing of the container may outlive delete.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto pids = cg.pids(); !pids.empty(); pids = cg.pids()) {
    if (std::chrono::steady_clock::now() > deadline) break;  // remove() names them
    for (pid_t pid : pids) kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cg.remove();
}

}  // namespace runvm::cli
