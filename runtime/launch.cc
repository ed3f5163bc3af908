#include "runtime/launch.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>

#include "runtime/assets.h"
#include "runtime/hooks.h"
#include "runtime/host_cgroup.h"
#include "runtime/host_procs.h"
#include "runtime/namespace_paths.h"
#include "runtime/network_namespace.h"
#include "runtime/pod_member.h"
#include "runtime/pool.h"
#include "runtime/shim_launcher.h"
#include "spec/base/log.h"
#include "spec/base/state_layout.h"
#include "spec/base/timeline.h"
#include "spec/config.h"
#include "spec/config_check.h"
#include "spec/proc_start_time.h"

namespace runvm::cli {

namespace {

// Removes the state directory unless dismissed: create's failure path.
struct DirGuard {
  const ContainerDir* dir;
  ~DirGuard() {
    if (dir) (void)dir->remove();
  }
};

Container new_container(const ContainerDir& dir, const std::string& id, const oci::Bundle& bundle) {
  Container c{dir, {}};
  c.state.oci_version = bundle.config.oci_version;
  c.state.id = id;
  c.state.status = oci::Status::kCreating;
  c.state.bundle = bundle.dir;
  c.state.rootfs = bundle.rootfs;
  c.state.created_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  c.state.annotations = bundle.config.annotations;
  return c;
}

// A pod member: no VM, no host cgroup (its resources are its sandbox VM's);
// its pid is its relay's (pod_member.h), its shim socket its sandbox's.
Result<pid_t> create_member(const GlobalOptions& g, const CreateOptions& o,
                            const oci::Bundle& bundle, const Container& sandbox,
                            const std::string& console_socket, UniqueFd* lock_out) {
  ContainerDir dir(g.root, o.id);
  // Held until the state is final; the guard, declared after, goes first.
  UniqueFd lock = RUNVM_TRY(dir.create());
  DirGuard guard{&dir};
  Container c = new_container(dir, o.id, bundle);
  c.state.shim.socket = shim_socket_of(sandbox);
  c.state.shim.extra[kPodMemberOf] = sandbox.state.id;
  RUNVM_CHECK(save_state(c));
  RUNVM_CHECK(save_config_snapshot(dir, bundle.dir));
  pid_t pid = RUNVM_TRY(
      launch_member_relay(c, sandbox, *bundle.config.process, console_socket, lock.get()));
  c.state.pid = pid;
  c.state.status = oci::Status::kCreated;
  c.state.shim.pid = pid;
  c.state.shim.start_time = oci::process_start_time(pid).value_or(0);
  auto saved = save_state(c);
  if (saved.ok()) saved = run_create_hooks(c, bundle.config.hooks);
  if (saved.ok() && !o.pid_file.empty()) saved = write_pid_file(o.pid_file, pid);
  if (!saved.ok()) {
    kill(pid, SIGKILL);  // its shim connection closes: the member goes
    waitpid(pid, nullptr, 0);
    return std::move(saved).error();
  }
  guard.dir = nullptr;
  if (lock_out) *lock_out = std::move(lock);
  return pid;
}

// Nothing of the container's runs on the host between its create and start.
bool nothing_before_start(const oci::Hooks& h) {
  return h.prestart.empty() && h.create_runtime.empty() && h.create_container.empty() &&
         h.start_container.empty() && h.poststart.empty();
}

// Moves the relay, the unit's shim and its QEMU into the container's host
// cgroup (cgroupfs: writing each pid to the cgroup.procs files).
Status place_in_cgroup(HostCgroup& cgroup, const std::vector<pid_t>& pids) {
  ShimPlacement p = cgroup.placement();
  for (int fd : p.cgroup_procs)
    for (pid_t pid : pids) {
      std::string s = std::to_string(pid);
      if (pwrite(fd, s.data(), s.size(), 0) != static_cast<ssize_t>(s.size()) && errno != ESRCH)
        return errno_error("joining the host cgroup");
    }
  return {};
}

// A warm start (pool.h): the container becomes the one member of a claimed
// pool unit; its pid is the relay's, as a pod member's. Nothing is booted.
Result<pid_t> create_claimed(const GlobalOptions& g, const CreateOptions& o,
                             const oci::Bundle& bundle, const pool::Unit& unit,
                             const std::string& console_socket, int netns, UniqueFd* lock_out,
                             bool start_at_once, bool* started_out) {
  auto drop_unit = [&] { pool::remove_unit(unit, std::chrono::seconds(0)); };
  ContainerDir dir(g.root, o.id);
  auto taken = dir.create();
  if (!taken.ok()) {
    drop_unit();
    return std::move(taken).error();
  }
  UniqueFd lock = std::move(*taken);
  DirGuard guard{&dir};
  Container c = new_container(dir, o.id, bundle);
  ContainerDir unit_dir = unit.dir();
  c.state.shim.socket = unit_dir.socket(layout::kShimSocket);
  c.state.shim.extra[pool::kUnitExtra] = unit.rel();
  Container host{unit_dir, {}};
  host.state.shim.socket = c.state.shim.socket;
  bool fresh_netns = netns < 0 && wants_fresh_netns(bundle.config);
  Status s = save_state(c);
  if (s.ok()) s = save_config_snapshot(dir, bundle.dir);
  std::unique_ptr<HostCgroup> cgroup;
  if (s.ok()) {
    auto prepared = HostCgroup::prepare(g, bundle.config);
    if (prepared.ok())
      cgroup = std::move(*prepared);
    else
      s = std::move(prepared).error();
  }
  if (!s.ok()) {
    drop_unit();
    return std::move(s).error();
  }
  timeline::mark("pool_claimed");
  // The unit's shim and QEMU (process_tree finds both).
  std::vector<pid_t> unit_procs = process_tree(unit.record->pid);
  pool::claim_unit_priority(unit_procs);
  // They join the container's cgroup, and the relay with them, in one
  // migration: on cgroup v1 a migration after a pause waits for an RCU
  // grace period (~10 ms on a busy host), one right after it does not.
  // Started at once, before its process is created and runs: the relay's
  // first thing. Otherwise while the guest creates it (the grace period
  // overlaps that): the process runs on `start`, after this create returned.
  std::function<Status()> join;
  std::function<Status(pid_t)> join_alongside;
  if (cgroup && start_at_once)
    join = [&cgroup, procs = unit_procs]() mutable {
      procs.push_back(getpid());
      return place_in_cgroup(*cgroup, procs);
    };
  else if (cgroup)
    join_alongside = [&cgroup, procs = unit_procs](pid_t relay) mutable {
      procs.push_back(relay);
      return place_in_cgroup(*cgroup, procs);
    };
  auto relay = launch_member_relay(c, host, *bundle.config.process, console_socket, lock.get(),
                                   netns, fresh_netns, start_at_once, join, join_alongside);
  if (!relay.ok()) {
    drop_unit();  // before the cgroup goes: it kills what joined it
    return std::move(relay).error();
  }
  pid_t pid = *relay;
  c.state.pid = pid;
  c.state.status = oci::Status::kCreated;  // the shim's status file says "running"
  c.state.shim.pid = pid;
  c.state.shim.start_time = oci::process_start_time(pid).value_or(0);
  auto saved = save_state(c);
  // What start must refuse (interfaces a hook added); started at once, no
  // hook runs, and the process (so its pid) may be gone already.
  if (saved.ok() && fresh_netns && !start_at_once) saved = save_netns_interfaces(dir, pid);
  if (saved.ok()) saved = run_create_hooks(c, bundle.config.hooks);
  if (saved.ok() && !o.pid_file.empty()) saved = write_pid_file(o.pid_file, pid);
  if (!saved.ok()) {
    kill(pid, SIGKILL);  // its unit's shim sees it go and ends the container
    waitpid(pid, nullptr, 0);
    pool::end_claimed_unit(g, unit.rel());
    return std::move(saved).error();
  }
  // The unit's logs, hard links in the container's dir: they outlive the
  // unit (its shim removes its dir) until delete, as a cold start's do.
  for (const char* name : {layout::kShimLog, layout::kEngineLog, layout::kConsoleLog})
    (void)link(unit_dir.file(name).c_str(), dir.file(name).c_str());
  log::debug("claimed pool unit " + unit.rel());
  guard.dir = nullptr;
  if (cgroup) cgroup->dismiss();
  if (lock_out) *lock_out = std::move(lock);
  if (started_out) *started_out = start_at_once;
  // The replacement boots in the background: this create does not wait.
  timeline::mark("claim_bound");
  pool::refill_after_claim(g, unit);
  timeline::mark("refill_spawned");
  return pid;
}

}  // namespace

Result<pid_t> create_container(const GlobalOptions& g, const CreateOptions& o, UniqueFd* lock_out,
                               bool* started_out) {
  if (started_out) *started_out = false;
  RUNVM_CHECK(validate_id(o.id));
  std::error_code ec;
  std::string bundle_dir = std::filesystem::absolute(o.bundle, ec).lexically_normal().string();
  if (ec) return make_error("bundle " + o.bundle + ": " + ec.message());
  auto bundle = RUNVM_TRY(oci::load_bundle(bundle_dir));
  if (!bundle.config.process) return make_error("config.json: process: is required");
  RUNVM_CHECK(oci::check_supported(bundle.config).context("config.json"));
  // Pods (issue 12): a member runs in its sandbox's VM, which must be ours
  // and running. One found only by a namespace path whose VM takes no
  // members keeps a VM of its own, as before pods.
  auto role = RUNVM_TRY(container_pod_role(g, bundle.config, o.id).context("config.json"));
  std::optional<Container> sandbox;
  if (role.kind == PodRole::kMember) {
    auto s = running_sandbox(g, role.sandbox_id);
    if (s.ok())
      sandbox = std::move(*s);
    else if (!role.by_namespace)
      return std::move(s).error();
  }
  UniqueFd netns;
  // A member's namespace paths name its sandbox's: its VM's, already set.
  if (bundle.config.linux_ && !sandbox)
    netns =
        RUNVM_TRY(check_namespace_paths(bundle.config.linux_->namespaces).context("config.json"));
  for (const auto& line : oci::ignored_settings(bundle.config))
    if (log::debug_enabled()) log::warn(line);
  // runc's rules: a terminal goes to a console socket; a socket needs a terminal.
  bool terminal = bundle.config.process->terminal;
  if (terminal && o.console_socket.empty())
    return make_error("cannot allocate tty if runvm will detach without setting console socket");
  if (!terminal && !o.console_socket.empty())
    return make_error("cannot use console socket if runvm will not detach or allocate tty");
  std::string console_socket;
  if (terminal) {
    console_socket = std::filesystem::absolute(o.console_socket, ec).string();
    if (ec) return make_error("--console-socket: " + ec.message());
    // Checked before a VM boots for nothing; connecting to it comes later.
    struct stat st;
    if (stat(console_socket.c_str(), &st) != 0)
      return errno_error("--console-socket " + console_socket);
    if (!S_ISSOCK(st.st_mode))
      return make_error("--console-socket " + console_socket + ": not a socket");
  }
  if (sandbox) return create_member(g, o, bundle, *sandbox, console_socket, lock_out);
  // Warm start: a booted unit of the container's class, if one is idle.
  if (g.config.pool.size > 0 && role.kind == PodRole::kNone) {
    auto cls = pool::configured_class(g);
    std::string why = cls.ok()
                          ? pool::cold_reason(g, *cls, bundle.config, netns.get(), o.preserve_fds)
                          : cls.error().message;
    std::optional<pool::Unit> unit;
    if (why.empty()) {
      RUNVM_CHECK(validate_id(o.id));
      // Not claimed for an id that is taken: create fails as it would cold.
      if (ContainerDir(g.root, o.id).exists())
        return make_error("container with given ID already exists", EEXIST);
      unit = pool::claim(g.root, cls->name(), o.id, g.config.pool.max_idle_seconds);
      if (!unit) why = "no idle unit";
    }
    if (unit)
      return create_claimed(
          g, o, bundle, *unit, console_socket, netns.get(), lock_out,
          o.start_at_once && !terminal && nothing_before_start(bundle.config.hooks), started_out);
    log::debug("pool: cold start (" + why + ")");
    if (why == "no idle unit") pool::fill_in_background(g, "", true);
  }
  const config::VmDefaults& vm = g.config.vm;
  auto assets = RUNVM_TRY(find_guest_assets("", "", "", {vm.kernel, vm.initrd, vm.qemu}));
  auto shim_bin = RUNVM_TRY(find_shim_binary());

  ContainerDir dir(g.root, o.id);
  // Held until the state is final (a concurrent delete, kill or start
  // waits; state reads "creating"); the guard, declared after, goes first.
  UniqueFd lock = RUNVM_TRY(dir.create());
  DirGuard guard{&dir};

  Container c = new_container(dir, o.id, bundle);
  if (role.kind == PodRole::kSandbox) c.state.shim.extra[kPodExtraKey] = kPodSandbox;
  RUNVM_CHECK(save_state(c));
  RUNVM_CHECK(save_config_snapshot(dir, bundle.dir));

  std::vector<std::string> argv = {shim_bin,
                                   "--id",
                                   o.id,
                                   "--bundle",
                                   bundle.dir,
                                   "--state-dir",
                                   dir.path(),
                                   "--socket-dir",
                                   dir.socket_dir(),
                                   "--kernel",
                                   assets.kernel,
                                   "--initrd",
                                   assets.initrd,
                                   "--qemu",
                                   assets.qemu,
                                   "--log",
                                   dir.file(layout::kShimLog)};
  // runvm.toml's defaults; the bundle's runvm.io/* annotations override them in the shim.
  argv.insert(argv.end(),
              {"--memory", std::to_string(vm.memory_mib), "--vcpus", std::to_string(vm.vcpus),
               "--accel", vm.accel, "--tcg-tb-size", std::to_string(vm.tcg_tb_size)});
  if (!vm.qemu_user.empty()) argv.insert(argv.end(), {"--qemu-user", vm.qemu_user});
  if (g.debug)
    argv.insert(argv.end(), {"--debug", "--debug-origin", std::to_string(timeline::origin_ns())});
  if (role.kind == PodRole::kSandbox) argv.push_back("--pod");
  if (o.stdio_pipes) argv.push_back("--stdio-pipes");
  const bool start_at_once = o.start_at_once && role.kind == PodRole::kNone && !terminal &&
                             nothing_before_start(bundle.config.hooks);
  if (start_at_once) argv.push_back("--start");
  if (terminal) {
    argv.push_back("--console-socket");
    argv.push_back(console_socket);
  }
  bool fresh_netns = wants_fresh_netns(bundle.config);
  auto host_cgroup = RUNVM_TRY(HostCgroup::prepare(g, bundle.config));
  timeline::mark("shim_launch");
  pid_t pid = RUNVM_TRY(launch_shim(std::move(argv), terminal, netns.get(), fresh_netns,
                                    host_cgroup ? host_cgroup->placement() : ShimPlacement{}));
  timeline::mark("shim_created");

  c.state.pid = pid;
  c.state.status = oci::Status::kCreated;
  c.state.shim.pid = pid;
  c.state.shim.start_time = oci::process_start_time(pid).value_or(0);
  c.state.shim.socket = dir.socket(layout::kShimSocket);
  auto saved = save_state(c);
  // Before the hooks: what they add is what start must refuse. Started at
  // once, there is no start to check, and the shim may be gone already (a
  // process that exits at once takes its namespace's /proc/<pid>/net with it).
  if (saved.ok() && fresh_netns && !start_at_once) saved = save_netns_interfaces(dir, pid);
  if (saved.ok()) saved = run_create_hooks(c, bundle.config.hooks);
  if (saved.ok() && !o.pid_file.empty()) saved = write_pid_file(o.pid_file, pid);
  if (!saved.ok()) {
    kill(pid, SIGKILL);  // QEMU follows it (PR_SET_PDEATHSIG)
    waitpid(pid, nullptr, 0);
    return std::move(saved).error();
  }
  guard.dir = nullptr;
  if (host_cgroup) host_cgroup->dismiss();
  if (lock_out) *lock_out = std::move(lock);
  if (started_out) *started_out = start_at_once;
  return pid;
}

}  // namespace runvm::cli
