#include "guest/agent/container.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>

#include "guest/agent/container_mounts.h"
#include "guest/agent/kernel_settings.h"
#include "guest/agent/look_path.h"
#include "guest/agent/pid_namespace.h"
#include "guest/agent/process_init.h"
#include "guest/agent/process_io.h"
#include "guest/agent/process_security.h"
#include "guest/agent/trace.h"
#include "guest/protocol/messages.h"

namespace runvm::agent {

std::variant<std::unique_ptr<Container>, Container::Refusal> Container::create(
    const proto::Create& req, const RootConfig& root_config, const DialFn& dial, EventLoop& loop,
    std::chrono::milliseconds setup_timeout, std::function<void()> on_progress,
    std::function<void()> before_join) {
  auto refuse = [](Error e) { return Refusal{std::move(e), std::nullopt}; };
  const proto::Process& proc = req.process;

  InitPlan plan;
  plan.request = &req;
  plan.terminal = proc.terminal;
  for (const auto& r : proc.rlimits) {
    auto resource = rlimit_resource(r.type);
    if (!resource.ok()) return refuse(std::move(resource).error().wrap("process.rlimits"));
    plan.rlimits.push_back({*resource, rlimit{r.soft, r.hard}});
  }
  ProcessSecurity security;  // the plan points into it until fork
  if (auto s = resolve_security(proc, req.linux_spec.seccomp, security, plan); !s.ok())
    return refuse(std::move(s).error());

  // What follows until fork stays synchronous: it waits only on the host
  // (its virtio-fs shares and stdio listeners) and the guest kernel, never on
  // anything a container controls, and a host that stalls these stalls the
  // whole VM anyway. What a container can stall (its process reading
  // /etc/passwd from its root, its execve) runs after fork, on the loop.
  auto root = ContainerRoot::mount(root_config, req.container_id, req.rootfs);
  if (!root.ok()) return refuse(std::move(root).error().wrap("preparing the container root"));
  plan.root = root->path();
  trace::mark("root_mounted");
  std::unique_ptr<Container> c(
      new Container(req.container_id, std::move(*root), loop, setup_timeout));
  c->seccomp_ = req.linux_spec.seccomp;
  c->sync_at_exit_ = root_config.sync_at_exit;
  c->ends_vm_ = req.ends_vm;
  // The guest's sysctls are VM-wide: with several containers in one VM the
  // last create's values hold (a pod shares them, as runc's containers in
  // one network namespace do). After the root mount, which host-side tests
  // and the fuzzer make fail first.
  if (auto s = apply_sysctl(req.linux_spec.sysctl); !s.ok()) return refuse(std::move(s).error());
  auto cgroup = ContainerCgroup::create(root_config.cgroup_root, req.container_id, req.linux_spec,
                                        0, root_config.cgroup_spare.get());
  if (!cgroup.ok()) return refuse(std::move(cgroup).error());
  c->cgroup_.emplace(std::move(*cgroup));
  plan.cgroup_dir = c->cgroup_dir();
  plan.before_join = std::move(before_join);
  auto bind_sources = clone_bind_sources(req.linux_spec.mounts, root_config.root_dir + ".bind");
  if (!bind_sources.ok()) return refuse(std::move(bind_sources).error());
  for (const auto& fd : *bind_sources) plan.mount_sources.push_back(fd.get());
  auto pts_tree = ContainerRoot::clone_pts(root_config);
  if (!pts_tree.ok()) return refuse(std::move(pts_tree).error());
  plan.pts_tree = pts_tree->get();
  trace::mark("cgroup_binds_pts_ready");

  auto stdio = open_process_stdio(req.stdio, proc, dial);
  if (!stdio.ok()) return refuse(std::move(stdio).error());
  std::copy(std::begin(stdio->fds), std::end(stdio->fds), plan.stdio);
  trace::mark("stdio_open");

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return refuse(errno_error("socketpair"));
  UniqueFd sync(pair[0]), child_sync(pair[1]);
  plan.sync_fd = child_sync.get();

  auto forked = fork_in_pid_namespace({req.linux_spec.new_pid_ns, 0});
  if (!forked.ok()) return refuse(std::move(forked).error());
  pid_t pid = *forked;
  if (pid == 0) run_container_init(plan);
  c->proc_.forked(pid);
  trace::mark("forked");
  c->own_pid_ns_ = req.linux_spec.new_pid_ns;
  child_sync.reset();
  // The child has its copies of the plan's fds; the stdio stays until it
  // is ready, then goes to the relays.
  c->stdio_.emplace(std::move(*stdio));
  c->terminal_ = proc.terminal;
  c->on_progress_ = std::move(on_progress);
  c->sync_ = std::move(sync);
  c->run_ = SetupRun::begin(loop, c->sync_.get(),
                            SetupSteps(SetupSteps::Plan::kUntilReady, "container process"),
                            setup_timeout);
  return c;
}

// Only at agent exit or when replaced after its exit; proc_ kills a process
// still running.
Container::~Container() = default;

std::optional<StepResult> Container::take_step_result() {
  if (!run_ || !run_->finished()) return std::nullopt;
  StepResult result = *run_->result();
  run_.reset();
  if (state_ == State::kCreating) {
    if (result.ok()) {
      // Ready: it unshared its mount namespace, which names its processes
      // where there is no cgroup (container_procs.h). Without a /proc of
      // ours (never in the VM) signal with all then has only the cgroup.
      // With a cgroup (always in the VM) the namespace is never asked for:
      // its procfs lookups are not made on a cold start's path.
      if (cgroup_dir().empty())
        if (auto ns = mount_namespace_of(proc_.pid()); ns.ok()) mount_ns_ = *ns;
      // The process holds its stdio now; ours goes, so its exit is EOF.
      auto relays = start_stdio_relays(*stdio_, terminal_, loop_, on_progress_);
      if (relays.ok()) {
        proc_.attach_stdio(std::move(*relays), std::move(stdio_->pty.master));
        // At its exit the kernel tears its mount namespace down (its root,
        // /proc, /dev, /sys and the rest) before its parent hears of it:
        // exit_task_namespaces() comes before exit_notify(). A VM that ends
        // with the container needs none of that, and it costs the exit
        // several ms under TCG: held here, the namespace outlives the
        // process and goes with the VM. Best effort.
        if (ends_vm_)
          mount_ns_hold_.reset(::open(("/proc/" + std::to_string(proc_.pid()) + "/ns/mnt").c_str(),
                                      O_RDONLY | O_CLOEXEC));
      } else {
        result.refusal = Refusal{std::move(relays).error().wrap("stdio relay"), std::nullopt};
      }
    }
    stdio_.reset();
    if (!result.ok()) {
      proc_.abandon();
      sync_.reset();
      // At once: a new create of this id mounts at the same path.
      root_.unmount();
      state_ = State::kFailed;
      return result;
    }
    state_ = State::kCreated;
  } else if (state_ == State::kStarting) {
    sync_.reset();
    state_ = State::kRunning;
  }
  // A process reaped while the step ran has its sync pair closed by now.
  if (proc_.reaped()) sync_.reset();
  return result;
}

Status Container::start() {
  if (state_ == State::kCreating) return make_error("container \"" + id_ + "\" is being created");
  if (proc_.exited()) return make_error("cannot start a container that has stopped");
  if (state_ != State::kCreated || !sync_)
    return make_error("cannot start an already running container");
  state_ = State::kStarting;
  run_ = SetupRun::begin(loop_, sync_.get(),
                         SetupSteps(SetupSteps::Plan::kUntilExec, "container process"),
                         setup_timeout_);
  return {};
}

Status Container::signal(int sig) { return proc_.signal(sig); }

Status Container::signal_all(int sig, std::vector<pid_t> joining) {
  if (state_ == State::kFailed) return make_error("container \"" + id_ + "\" does not exist");
  // Until it is ready its mount namespace is not its own yet: the main
  // process is all there is.
  if (cgroup_dir().empty() && !mount_ns_) return proc_.signal(sig);
  // While it is created, the main process may not have joined its cgroup
  // yet (it joins itself, after the fork): it is signalled by its pid too.
  // Unreaped (proc_ is marked exited in the turn it is reaped), so the pid
  // is still its own.
  if (state_ == State::kCreating && !proc_.exited()) joining.push_back(proc_.pid());
  return agent::signal_all(ProcessScope{cgroup_dir(), mount_ns_, std::move(joining)}, sig);
}

Status Container::resize(uint16_t rows, uint16_t cols) { return proc_.resize(rows, cols); }

Status Container::update_memory(std::optional<uint64_t> limit, uint64_t guest_ram) {
  if (!cgroup_) return make_error("memory.limit: the container has no cgroup", ENOTSUP);
  return cgroup_->set_memory_max(limit, guest_ram);
}

Status Container::update_resources(const proto::UpdateResources& u) {
  if (!cgroup_) return make_error("the container has no cgroup", ENOTSUP);
  return cgroup_->update(u);
}

Status Container::set_frozen(bool frozen) {
  if (!cgroup_) return make_error("the container has no cgroup to freeze", ENOTSUP);
  return cgroup_->set_frozen(frozen);
}

Result<bool> Container::frozen() const {
  if (!cgroup_) return make_error("the container has no cgroup to freeze", ENOTSUP);
  return cgroup_->frozen();
}

void Container::on_reaped(int status, std::vector<pid_t> joining) {
  trace::mark("reaped");
  proc_.on_reaped(status);
  // A step still running reads its EOF from the sync pair first.
  if (!run_) sync_.reset();
  if (ends_vm_) {
    // The end of its PID namespace, as runc's (the VM stands for it): the
    // host would ask for it right after the exit; here it costs no round
    // trip, and the sync below takes what they dirtied along. Best effort,
    // as the host's was (it only logged a failure).
    (void)signal_all(SIGKILL, std::move(joining));
    trace::mark("killed_rest");
  }
  if (sync_at_exit_) {
    ::sync();
    trace::mark("synced_at_exit");
  }
  // Its files on the host go with the VM: an unmount now (the share's
  // FUSE_DESTROY round trip and teardown) would only delay the exit.
  if (!ends_vm_) root_.unmount();
}

std::optional<proto::Exit> Container::take_exit() {
  if (run_ || state_ == State::kCreating || state_ == State::kFailed) return std::nullopt;
  auto status = proc_.take_exit_status();
  if (!status) return std::nullopt;
  uint64_t ooms = cgroup_ ? cgroup_->oom_kills() : 0;
  return proto::Exit{id_, static_cast<uint32_t>(*status),
                     static_cast<uint32_t>(std::min<uint64_t>(ooms, UINT32_MAX))};
}

}  // namespace runvm::agent
