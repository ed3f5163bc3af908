#include "guest/agent/container.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>

#include <algorithm>

#include "guest/agent/container_mounts.h"
#include "guest/agent/kernel_settings.h"
#include "guest/agent/look_path.h"
#include "guest/agent/process_init.h"
#include "guest/agent/process_io.h"
#include "guest/agent/process_security.h"
#include "guest/protocol/messages.h"

namespace runvm::agent {
namespace {

// A process stuck in setup (e.g. a stalled share) must not wedge the agent.
constexpr int kReadyTimeoutMs = 30000;

}  // namespace

std::variant<std::unique_ptr<Container>, Container::Refusal> Container::create(
    const proto::Create& req, const RootConfig& root_config, const DialFn& dial, EventLoop& loop,
    std::function<void()> on_progress) {
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
  ProcessSecurity security;  // the plan points into it until the process is ready
  if (auto s = resolve_security(proc, req.linux_spec.seccomp, security, plan); !s.ok())
    return refuse(std::move(s).error());

  auto root = ContainerRoot::mount(root_config, req.rootfs);
  if (!root.ok()) return refuse(std::move(root).error().wrap("preparing the container root"));
  plan.root = root->path();
  std::unique_ptr<Container> c(new Container(req.container_id, std::move(*root)));
  c->seccomp_ = req.linux_spec.seccomp;
  // One VM per container: the guest's sysctls are the container's. After the
  // root mount, which host-side tests and the fuzzer make fail first.
  if (auto s = apply_sysctl(req.linux_spec.sysctl); !s.ok()) return refuse(std::move(s).error());
  auto cgroup = ContainerCgroup::create(root_config.cgroup_root, req.container_id, req.linux_spec);
  if (!cgroup.ok()) return refuse(std::move(cgroup).error());
  c->cgroup_.emplace(std::move(*cgroup));
  plan.cgroup_dir = c->cgroup_dir();
  auto bind_sources = clone_bind_sources(req.linux_spec.mounts, root_config.root_dir + ".bind");
  if (!bind_sources.ok()) return refuse(std::move(bind_sources).error());
  for (const auto& fd : *bind_sources) plan.mount_sources.push_back(fd.get());
  auto pts_tree = ContainerRoot::clone_pts(root_config);
  if (!pts_tree.ok()) return refuse(std::move(pts_tree).error());
  plan.pts_tree = pts_tree->get();

  auto stdio = open_process_stdio(req.stdio, proc, dial);
  if (!stdio.ok()) return refuse(std::move(stdio).error());
  std::copy(std::begin(stdio->fds), std::end(stdio->fds), plan.stdio);

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return refuse(errno_error("socketpair"));
  UniqueFd sync(pair[0]), child_sync(pair[1]);
  plan.sync_fd = child_sync.get();

  pid_t pid = ::fork();
  if (pid < 0) return refuse(errno_error("fork"));
  if (pid == 0) run_container_init(plan);
  c->proc_.forked(pid);
  child_sync.reset();

  InitReport report = read_report(sync.get(), kReadyTimeoutMs);
  if (report.kind != InitReport::kReady) {
    c->proc_.kill_and_reap();
    if (report.kind == InitReport::kTimedOut) report.message = "container process setup timed out";
    if (report.kind == InitReport::kClosed) report.message = "container process died during setup";
    Refusal r{make_error(proto::printable(report.message))};
    if (report.exit_code == kExitNotFound || report.exit_code == kExitNotExecutable)
      r.exit_code = report.exit_code;
    return r;
  }
  c->sync_ = std::move(sync);

  // The process holds its stdio now; ours goes, so its exit is EOF.
  auto relays = start_stdio_relays(*stdio, proc.terminal, loop, on_progress);
  if (!relays.ok()) return refuse(std::move(relays).error().wrap("stdio relay"));
  c->proc_.attach_stdio(std::move(*relays), std::move(stdio->pty.master));
  return c;
}

// Only at agent exit or when replaced after its exit; proc_ kills a process
// still running.
Container::~Container() = default;

Status Container::start() {
  if (proc_.exited()) return make_error("cannot start a container that has stopped");
  if (!sync_) return make_error("cannot start an already running container");
  UniqueFd sync = std::move(sync_);
  const char go = init_sync::kStart;
  if (::send(sync.get(), &go, 1, MSG_NOSIGNAL) != 1)
    return errno_error("container process is gone");
  // EOF: the close-on-exec end went with a successful execve.
  // A process killed meanwhile also reads as EOF: its exit event follows.
  InitReport report = read_report(sync.get(), kReadyTimeoutMs);
  if (report.kind == InitReport::kFailed) return make_error(proto::printable(report.message));
  if (report.kind == InitReport::kTimedOut) return make_error("container process did not exec");
  return {};
}

Status Container::signal(int sig) { return proc_.signal(sig); }

Status Container::resize(uint16_t rows, uint16_t cols) { return proc_.resize(rows, cols); }

void Container::on_reaped(int status) {
  proc_.on_reaped(status);
  sync_.reset();
  root_.unmount();
}

std::optional<proto::Exit> Container::take_exit() {
  auto status = proc_.take_exit_status();
  if (!status) return std::nullopt;
  return proto::Exit{id_, static_cast<uint32_t>(*status)};
}

}  // namespace runvm::agent
