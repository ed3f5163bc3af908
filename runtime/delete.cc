// `runvm delete`: remove a stopped container (with --force, stop it first).
#include <getopt.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/host_cgroup.h"
#include "runtime/host_procs.h"
#include "runtime/pod_member.h"
#include "runtime/pool.h"
#include "runtime/pool_release.h"
#include "runtime/verbs.h"
#include "spec/base/log.h"
#include "spec/proc_start_time.h"

namespace runvm::cli {
namespace {

bool shim_gone_within(const oci::ContainerState& s, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (shim_alive(s) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return !shim_alive(s);
}

struct HostProcess {
  pid_t pid;
  uint64_t start_time;  // so that a reused pid is never signalled
};

// The shim's descendants (QEMU) as they are now.
std::vector<HostProcess> descendants(const oci::ContainerState& s) {
  std::vector<HostProcess> out;
  for (pid_t pid : process_tree(static_cast<pid_t>(s.shim.pid))) {
    if (pid == s.shim.pid) continue;
    if (auto t = oci::process_start_time(pid); t.ok()) out.push_back({pid, *t});
  }
  return out;
}

// QEMU gets SIGKILL when its shim dies (PR_SET_PDEATHSIG), but a moment
// later: without a host cgroup to empty (remove_host_cgroup), delete would
// return while it still runs (found by tests/integration/fault_test.cc).
Status end_descendants(const std::vector<HostProcess>& procs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    const HostProcess* left = nullptr;
    for (const auto& p : procs)
      if (process_running(p.pid, p.start_time)) {
        kill(p.pid, SIGKILL);
        left = &p;
      }
    if (!left) return {};
    if (std::chrono::steady_clock::now() > deadline)
      return make_error("process " + std::to_string(left->pid) +
                        " of the container did not exit after SIGKILL");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// How long a stopped container's shim (or relay) may deliver its last
// output: its drain's own cap (container_shim.cc, stdio_relay.h).
constexpr std::chrono::seconds kShimDrainMax{300};

// The shim is the container: killing it takes the VM and every process in
// it down. `grace`: how long it may take to exit first.
Status end_shim(const oci::ContainerState& s, std::chrono::seconds grace) {
  auto children = descendants(s);
  if (grace.count() <= 0 || !shim_gone_within(s, grace)) {
    kill(static_cast<pid_t>(s.shim.pid), SIGKILL);
    if (!shim_gone_within(s, std::chrono::seconds(10)))
      return make_error("shim did not exit after SIGKILL");
  }
  return end_descendants(children);
}

}  // namespace

Result<int> verb_delete(GlobalOptions& g, int argc, char** argv) {
  bool force = false;
  static const option opts[] = {{"force", no_argument, nullptr, 'f'},
                                {"help", no_argument, nullptr, 'h'},
                                {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "fh", opts, nullptr)) != -1) {
    if (c == 'f') {
      force = true;
      continue;
    }
    if (c == 'h') {
      printf(
          "usage: runvm delete [--force] CONTAINER_ID\n\n"
          "Deletes a stopped container; --force kills a running one first.\n");
      return 0;
    }
    return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  g.subject = argv[optind];
  // Under the lock: a `create` in progress finishes first (runc would
  // remove its directory under it), and what we read stays true.
  auto locked = lock_container(g, argv[optind]);
  if (!locked.ok()) {
    // runc: deleting a container that does not exist fails unless forced.
    if (force && locked.error().code == ENOENT) return 0;
    return std::move(locked).error();
  }
  auto& ct = locked->ct;
  if (ct.state.status != oci::Status::kStopped) {
    if (!force && ct.state.status != oci::Status::kCreated)
      return make_error("cannot delete container " + ct.state.id +
                        " that is not stopped: " + std::string(oci::to_string(ct.state.status)));
    RUNVM_CHECK(end_shim(ct.state, std::chrono::seconds(0)));
  } else if (shim_alive(ct.state)) {
    // Stopped, but the shim (a claimed container's: its relay) may still
    // be delivering the output written before the exit to a slow reader.
    // runc's process wrote that into the caller's pipe itself, where no
    // delete takes it back: so it is let finish. It ends on its own once
    // all is delivered, or its reader took nothing for 5 s, and at the
    // latest after 5 min (its drain); killed only past that. No process
    // outlives delete. --force does not wait that long for a shim that may
    // be wedged: 6 s, as before the drain was waited for.
    RUNVM_CHECK(end_shim(
        ct.state, force ? std::chrono::seconds(6) : kShimDrainMax + std::chrono::seconds(10)));
  }
  // A pod member's rootfs and binds are its sandbox shim's to unbind.
  wait_member_unbound(g, ct);
  // A warm-started container's pool unit lets go of it; its VM ends on its
  // own (runvm-pool(8)).
  if (auto unit = ct.state.shim.extra.find(pool::kUnitExtra); unit != ct.state.shim.extra.end())
    pool::release_claimed_unit(g, unit->second, ct.state.id, ct.dir);
  // poststop hooks run once the container is gone; they cannot fail delete.
  auto hooks = load_hooks(ct.dir);
  if (!hooks.ok()) log::warn("poststop hooks: " + hooks.error().message);
  RUNVM_CHECK(remove_host_cgroup(g, ct.dir));
  RUNVM_CHECK(ct.dir.remove());
  if (hooks.ok()) run_poststop_hooks(ct, *hooks);
  return 0;
}

}  // namespace runvm::cli
