#include "guest/agent/exec.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>

#include "guest/agent/look_path.h"
#include "guest/agent/pid_namespace.h"
#include "guest/agent/process_init.h"
#include "guest/agent/process_io.h"
#include "guest/agent/process_security.h"
#include "guest/protocol/messages.h"

namespace runvm::agent {

std::variant<std::unique_ptr<ExecProcess>, Refusal> ExecProcess::launch(
    const proto::Exec& req, const Container& container, const DialFn& dial, EventLoop& loop,
    std::chrono::milliseconds setup_timeout, std::function<void()> on_progress,
    std::function<void()> before_join) {
  auto refuse = [](Error e) { return Refusal{std::move(e), std::nullopt}; };
  const proto::Process& proc = req.process;

  // process_init works on a create request: this one carries only what an
  // exec'd process uses (the root is joined, not prepared).
  proto::Create as_create;
  as_create.container_id = req.container_id;
  as_create.process = proc;
  InitPlan plan;
  plan.request = &as_create;
  plan.terminal = proc.terminal;
  plan.join_pid = container.pid();
  UniqueFd join_pidfd(static_cast<int>(::syscall(SYS_pidfd_open, container.pid(), 0)));
  if (!join_pidfd) return refuse(errno_error("pidfd_open of the container process"));
  plan.join_pidfd = join_pidfd.get();
  plan.cgroup_dir = container.cgroup_dir();
  plan.before_join = std::move(before_join);
  for (const auto& r : proc.rlimits) {
    auto resource = rlimit_resource(r.type);
    if (!resource.ok()) return refuse(std::move(resource).error().wrap("process.rlimits"));
    plan.rlimits.push_back({*resource, rlimit{r.soft, r.hard}});
  }
  // The container's seccomp profile and the exec's own capabilities, as runc
  // applies them; the plan points into `security` until fork.
  ProcessSecurity security;
  if (auto s = resolve_security(proc, container.seccomp(), security, plan); !s.ok())
    return refuse(std::move(s).error());

  // Dialing waits on the host only (as Container::create's preparation).
  auto stdio = open_process_stdio(req.stdio, proc, dial);
  if (!stdio.ok()) return refuse(std::move(stdio).error());
  std::copy(std::begin(stdio->fds), std::end(stdio->fds), plan.stdio);

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return refuse(errno_error("socketpair"));
  UniqueFd sync(pair[0]), child_sync(pair[1]);
  plan.sync_fd = child_sync.get();

  std::unique_ptr<ExecProcess> e(new ExecProcess(req.container_id, req.exec_id));
  auto forked = fork_in_pid_namespace({false, container.own_pid_ns() ? container.pid() : 0});
  if (!forked.ok()) return refuse(std::move(forked).error());
  pid_t pid = *forked;
  if (pid == 0) run_container_init(plan);
  e->proc_.forked(pid);
  child_sync.reset();
  e->loop_ = &loop;
  e->on_progress_ = std::move(on_progress);
  e->stdio_.emplace(std::move(*stdio));
  e->terminal_ = proc.terminal;
  e->sync_ = std::move(sync);
  ExecProcess* self = e.get();
  e->run_ = SetupRun::begin(loop, e->sync_.get(),
                            SetupSteps(SetupSteps::Plan::kReadyThenExec, "exec process"),
                            setup_timeout, [self] { return self->start_relays(); });
  return e;
}

// Relays before execve: the process may write at once. It holds its stdio
// now; ours goes, so its exit is EOF.
Status ExecProcess::start_relays() {
  auto relays = start_stdio_relays(*stdio_, terminal_, *loop_, on_progress_);
  if (!relays.ok()) return std::move(relays).error().wrap("stdio relay");
  proc_.attach_stdio(std::move(*relays), std::move(stdio_->pty.master));
  stdio_.reset();
  return {};
}

std::optional<StepResult> ExecProcess::take_step_result() {
  if (!run_ || !run_->finished()) return std::nullopt;
  StepResult result = *run_->result();
  run_.reset();
  sync_.reset();
  stdio_.reset();
  if (!result.ok()) proc_.abandon();
  return result;
}

// When the agent ends or its set-up failed; proc_ kills a process still
// running.
ExecProcess::~ExecProcess() = default;

Status ExecProcess::signal(int sig) { return proc_.signal(sig); }

Status ExecProcess::resize(uint16_t rows, uint16_t cols) { return proc_.resize(rows, cols); }

void ExecProcess::on_reaped(int status) { proc_.on_reaped(status); }

std::optional<proto::ExecExit> ExecProcess::take_exit() {
  if (run_) return std::nullopt;
  auto status = proc_.take_exit_status();
  if (!status) return std::nullopt;
  return proto::ExecExit{container_id_, exec_id_, static_cast<uint32_t>(*status)};
}

}  // namespace runvm::agent
