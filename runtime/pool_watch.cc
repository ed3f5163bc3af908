// A pool unit's watcher, `runvm pool watch <class>/<unit>` (pool.h,
// runvm-pool(8)): started by the fill that booted the unit, it starts the
// refill once a container claims the unit. A create that refilled itself
// would leave the refill, and every unit it boots, to its caller's
// subreaper: conmon waits for each process it adopted before it exits, so
// `podman run` would wait until the refilled unit was claimed and ended.
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/pool.h"
#include "runtime/process_end.h"
#include "spec/base/log.h"

namespace runvm::cli::pool {

Status watch(const GlobalOptions& g, const std::string& rel) {
  size_t slash = rel.find('/');
  if (slash == std::string::npos) return make_error("pool watch: a unit is <class>/<unit>");
  std::string cls = rel.substr(0, slash), name = rel.substr(slash + 1);
  RUNVM_CHECK(validate_id(cls).context("pool watch"));
  RUNVM_CHECK(validate_id(name).context("pool watch"));
  Unit u = read_unit(g.root, cls, name);
  if (!u.record) return make_error("pool unit " + rel + ": no shim recorded");
  // The shim's end: its pidfd (its pid cannot be recycled under it), or,
  // where the kernel has no pidfd_open, a look every interval (a watcher
  // that returned at once there never refilled a claim). Checked to be the
  // recorded shim after the pidfd was opened.
  ProcessEnd shim(u.record->pid, [&u] { return u.alive(); });
  if (!u.alive()) return {};  // gone already: nothing to refill
  UniqueFd in(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!in) return errno_error("inotify");
  // The owner file appears (O_EXCL) and is written (closed) by the taker;
  // the dir goes with the unit.
  std::string dir = u.dir().path();
  if (inotify_add_watch(in.get(), dir.c_str(),
                        IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF | IN_ONLYDIR) < 0)
    return errno_error("inotify " + dir);
  // Checked after the watch is set: a claim made before it is seen here.
  for (bool shim_gone = false;;) {
    Unit now = read_unit(g.root, cls, name);
    if (now.owner == kDrainOwner) return {};
    if (!now.owner.empty()) {
      log::debug("pool unit " + rel + ": claimed by " + now.owner + ": refilling");
      if (take_refill(now)) fill_in_background(g, now.generation, false);
      return {};
    }
    // Gone unclaimed (killed, crashed, removed): a fill or claim drains it.
    if (shim_gone || !now.dir().exists()) return {};
    // Without a pidfd, fds[1] is -1 (poll skips it) and poll times out.
    pollfd fds[2] = {{in.get(), POLLIN, 0}, {shim.fd(), POLLIN, 0}};
    if (poll(fds, 2, shim.timeout_ms()) < 0 && errno != EINTR) return errno_error("poll");
    // Its owner is looked at once more: a claimed unit's shim may end fast.
    if (shim.ended(fds[1].revents)) shim_gone = true;
    alignas(inotify_event) char buf[4096];
    while (read(in.get(), buf, sizeof buf) > 0) {
    }
  }
}

}  // namespace runvm::cli::pool
