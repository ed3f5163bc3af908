#include "runtime/pool_release.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "runtime/container_dir.h"
#include "runtime/host_cgroup.h"
#include "runtime/host_procs.h"
#include "runtime/pool.h"
#include "runtime/pool_unit.h"
#include "runtime/released_cgroup.h"
#include "spec/base/log.h"
#include "spec/base/state_layout.h"
#include "spec/base/unique_fd.h"
#include "spec/cgroup/cgroup.h"

namespace runvm::cli::pool {

namespace {

// Where detached units live (pool.cc's leave_caller_cgroup), in every
// hierarchy: `pids` go there, each hierarchy on its own; best effort. For
// a container that had no host cgroup (no limits to keep).
void move_to_pool_cgroup(const std::vector<pid_t>& pids) {
  auto layout = cgroup::detect_layout();
  if (!layout.ok()) return;
  auto pool = cgroup::Cgroup::resolve(*layout, "/runvm-pool");
  if (!pool.ok() || !pool->create().ok()) return;
  for (const auto& d : pool->dirs()) {
    UniqueFd fd(open((d.path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) continue;
    for (pid_t pid : pids) {
      std::string s = std::to_string(pid);
      if (pwrite(fd.get(), s.data(), s.size(), 0) < 0 && errno != ESRCH)
        log::debug("moving " + s + " to the pool cgroup: " + strerror(errno));
    }
  }
}

}  // namespace

void release_claimed_unit(const GlobalOptions& g, const std::string& rel, const std::string& id,
                          const ContainerDir& dir) {
  auto claimed = read_claimed_unit(g.root, rel);
  if (!claimed) return;
  const Unit& u = *claimed;
  std::string pod = u.dir().path() + "/" + layout::kPodDir;
  auto bound = [&] { return member_bound(pod, id); };
  // The mount table changing wakes a poll for POLLPRI on mountinfo.
  UniqueFd mountinfo(open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  bool still_bound;
  while ((still_bound = bound()) && u.alive()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (!mountinfo) {
      usleep(5000);
      continue;
    }
    pollfd p{mountinfo.get(), POLLPRI, 0};
    // At most 50 ms at a time: the shim's death is no mount change.
    (void)poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 50)));
  }
  if (!still_bound && u.alive()) {
    // Its owner's dir goes next: a fill or drain must not take it for a
    // claim abandoned by a create that died (fill_action).
    UniqueFd(open((u.dir().path() + "/" + kReleasedFile).c_str(),
                  O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    // What claimed it joined the container's cgroup (launch.cc); without
    // one its processes never left the pool's, and had no limits to keep.
    // Only the unit's own move: a cgroup shared with other containers
    // (runc lets several join one) keeps theirs.
    std::vector<pid_t> procs = host_cgroup_pids(g, dir);
    std::vector<pid_t> unit_procs = process_tree(u.record->pid);
    std::erase_if(procs, [&](pid_t p) {
      return std::find(unit_procs.begin(), unit_procs.end(), p) == unit_procs.end();
    });
    if (procs.empty()) {
      log::debug("pool unit " + rel + ": released; its VM ends on its own");
      return;
    }
    // It keeps the container's limits until it ends (released_cgroup.h).
    auto placed = place_released(dir, u.name, procs);
    if (placed.ok()) {
      if (!*placed) move_to_pool_cgroup(procs);
      log::debug("pool unit " + rel + ": released; its VM ends on its own");
      return;
    }
    // Not without its bounds: it ends here, as a dead or stuck one.
    log::warn("pool unit " + rel + ": " + placed.error().message + "; ending it now");
  }
  if (still_bound && u.alive())
    log::warn("pool unit " + rel + ": did not end with its container; killing it");
  // Dead, or stuck: what is left of it goes now.
  end_claimed_unit(g, rel);
}

}  // namespace runvm::cli::pool
