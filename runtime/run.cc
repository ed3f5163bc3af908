// `runvm run`: create and start a container; without --detach, wait for it
// and exit the way its process did.
#include <getopt.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/host_cgroup.h"
#include "runtime/launch.h"
#include "runtime/pool.h"
#include "runtime/pool_release.h"
#include "runtime/run_foreground.h"
#include "runtime/terminal.h"
#include "runtime/verbs.h"
#include "spec/base/log.h"
#include "spec/base/timeline.h"
#include "spec/base/wait_status.h"

namespace runvm::cli {

Result<bool> parse_create_flag(int c, CreateOptions& o);  // create.cc

namespace {

void run_usage(FILE* out) {
  fprintf(out,
          "usage: runvm run [options] CONTAINER_ID\n\n"
          "Creates and starts a container in its own microVM.\n\n"
          "  -b, --bundle DIR        bundle directory (default: current directory)\n"
          "  -d, --detach            return once started\n"
          "  --pid-file FILE         write the container's pid (the shim's) to FILE\n"
          "  --console-socket PATH   send the terminal's master fd to PATH (terminal: true);\n"
          "                          without it, the caller's terminal is relayed (raw mode)\n"
          "  --keep                  do not delete the container after it exits\n"
          "  --no-pivot, --no-new-keyring  accepted for runc compatibility\n"
          "  --preserve-fds N        pass N extra fds (3..) to the container\n");
}

// Whether the bundle's process wants a terminal; create reports a bad bundle.
bool wants_terminal(const std::string& bundle) {
  auto b = oci::load_bundle(bundle);
  return b.ok() && b->config.process && b->config.process->terminal;
}

}  // namespace

Result<int> verb_run(GlobalOptions& g, int argc, char** argv) {
  CreateOptions o;
  bool detach = false, keep = false;
  static const option opts[] = {
      {"bundle", required_argument, nullptr, 'b'},
      {"pid-file", required_argument, nullptr, 'p'},
      {"console-socket", required_argument, nullptr, 'c'},
      {"preserve-fds", required_argument, nullptr, 'f'},
      {"no-pivot", no_argument, nullptr, 'n'},
      {"no-new-keyring", no_argument, nullptr, 'n'},
      {"detach", no_argument, nullptr, 'd'},
      {"keep", no_argument, nullptr, 'k'},
      {"no-subreaper", no_argument, nullptr, 'n'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "b:dh", opts, nullptr)) != -1) {
    if (c == 'h') {
      run_usage(stdout);
      return 0;
    }
    if (c == 'd') {
      detach = true;
      continue;
    }
    if (c == 'k') {
      keep = true;
      continue;
    }
    if (!RUNVM_TRY(parse_create_flag(c, o)))
      return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  o.id = argv[optind];
  g.subject = o.id;
  // As runc: in the foreground the process's stdio are pipes that runc
  // copies to its own; detached it gets runc's stdio itself.
  o.stdio_pipes = !detach;
  // runc: a foreground terminal without --console-socket is ours to relay.
  // Declared before what borrows it; gone before we re-raise a signal, so
  // the caller's terminal gets its mode back.
  std::optional<HostTerminal> host;
  std::optional<ConsoleReceiver> receiver;
  if (!detach && o.console_socket.empty() && wants_terminal(o.bundle)) {
    host.emplace(RUNVM_TRY(HostTerminal::find()));
    receiver.emplace(RUNVM_TRY(ConsoleReceiver::listen()));
    o.console_socket = receiver->path();
  }
  // Locked from create through start: a concurrent delete waits for a
  // running container instead of taking a created one from under us.
  UniqueFd lock;
  o.start_at_once = true;
  bool started_at_once = false;
  pid_t shim = RUNVM_TRY(create_container(g, o, &lock, &started_at_once));
  ContainerDir dir(g.root, o.id);
  // A failure takes the container down, leaving nothing behind.
  // A warm-started container's pool unit ends with it (runvm-pool(8)).
  auto end_unit = [&](const Container& c) {
    if (auto u = c.state.shim.extra.find(pool::kUnitExtra); u != c.state.shim.extra.end())
      pool::end_claimed_unit(g, u->second);
  };
  // Once it exited: the unit lets go of it, and its VM ends on its own.
  auto release_unit = [&](const Container& c) {
    if (auto u = c.state.shim.extra.find(pool::kUnitExtra); u != c.state.shim.extra.end())
      pool::release_claimed_unit(g, u->second, c.state.id, c.dir);
  };
  auto abandon = [&](Error e) -> Error {
    kill(shim, SIGKILL);  // QEMU follows it (PR_SET_PDEATHSIG)
    waitpid(shim, nullptr, 0);
    if (auto c = load_container(g, o.id); c.ok()) end_unit(*c);
    (void)remove_host_cgroup(g, dir);
    (void)dir.remove();
    return e;
  };
  auto ct = load_container(g, o.id);
  if (!ct.ok()) return abandon(std::move(ct).error());
  UniqueFd master;
  if (receiver) {
    auto m = receiver->take_master();
    if (!m.ok()) return abandon(std::move(m).error());
    master = std::move(*m);
    receiver.reset();
    // The shim passes the size on before the process starts.
    if (auto ws = host->size()) ioctl(master.get(), TIOCSWINSZ, &*ws);
    if (auto raw = host->make_raw(); !raw.ok()) return abandon(std::move(raw).error());
  }
  // Started by the shim already: no hook was to run in between.
  if (!started_at_once) {
    auto started = start_with_hooks(*ct);
    if (!started.ok()) return abandon(std::move(started).error());
  }
  lock.reset();
  timeline::mark("start_done");
  if (detach) return 0;

  auto status = wait_for_shim(shim, std::move(master), host ? &*host : nullptr);
  host.reset();
  timeline::mark("shim_exited");
  if (!status.ok()) return abandon(std::move(status).error());
  if (!keep) {
    auto hooks = load_hooks(ct->dir);
    release_unit(*ct);
    timeline::mark("unit_ended");
    if (auto r = remove_host_cgroup(g, ct->dir); !r.ok()) log::warn(r.error().message);
    (void)ct->dir.remove();
    if (hooks.ok()) run_poststop_hooks(*ct, *hooks);
  }
  timeline::mark("run_done");
  return become_wait_status(*status);  // the same wait status as the process, as runc
}

}  // namespace runvm::cli
