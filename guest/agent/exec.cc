#include "guest/agent/exec.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>

#include <algorithm>

#include "guest/agent/look_path.h"
#include "guest/agent/process_init.h"
#include "guest/agent/process_io.h"
#include "guest/agent/process_security.h"
#include "guest/protocol/messages.h"

namespace runvm::agent {
namespace {

// Setup and execve of an exec'd process must not wedge the agent.
constexpr int kReadyTimeoutMs = 30000;

Container::Refusal refusal_of(const InitReport& report) {
  std::string message = report.message;
  if (report.kind == InitReport::kTimedOut) message = "exec process setup timed out";
  if (report.kind == InitReport::kClosed) message = "exec process died during setup";
  Container::Refusal r{make_error(proto::printable(message)), std::nullopt};
  if (report.kind == InitReport::kFailed &&
      (report.exit_code == kExitNotFound || report.exit_code == kExitNotExecutable))
    r.exit_code = report.exit_code;
  return r;
}

}  // namespace

std::variant<std::unique_ptr<ExecProcess>, Container::Refusal> ExecProcess::launch(
    const proto::Exec& req, const Container& container, const DialFn& dial, EventLoop& loop,
    std::function<void()> on_progress) {
  auto refuse = [](Error e) { return Container::Refusal{std::move(e), std::nullopt}; };
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
  plan.cgroup_dir = container.cgroup_dir();
  for (const auto& r : proc.rlimits) {
    auto resource = rlimit_resource(r.type);
    if (!resource.ok()) return refuse(std::move(resource).error().wrap("process.rlimits"));
    plan.rlimits.push_back({*resource, rlimit{r.soft, r.hard}});
  }
  // The container's seccomp profile and the exec's own capabilities, as runc
  // applies them; the plan points into `security` until the process is ready.
  ProcessSecurity security;
  if (auto s = resolve_security(proc, container.seccomp(), security, plan); !s.ok())
    return refuse(std::move(s).error());

  auto stdio = open_process_stdio(req.stdio, proc, dial);
  if (!stdio.ok()) return refuse(std::move(stdio).error());
  std::copy(std::begin(stdio->fds), std::end(stdio->fds), plan.stdio);

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return refuse(errno_error("socketpair"));
  UniqueFd sync(pair[0]), child_sync(pair[1]);
  plan.sync_fd = child_sync.get();

  std::unique_ptr<ExecProcess> e(new ExecProcess(req.container_id, req.exec_id));
  pid_t pid = ::fork();
  if (pid < 0) return refuse(errno_error("fork"));
  if (pid == 0) run_container_init(plan);
  e->proc_.forked(pid);
  child_sync.reset();

  InitReport report = read_report(sync.get(), kReadyTimeoutMs);
  if (report.kind != InitReport::kReady) {
    e->proc_.kill_and_reap();
    return refusal_of(report);
  }
  // Relays before execve: the process may write at once. It holds its
  // stdio now; ours goes, so its exit is EOF.
  auto relays = start_stdio_relays(*stdio, proc.terminal, loop, on_progress);
  if (!relays.ok()) {
    e->proc_.kill_and_reap();
    return refuse(std::move(relays).error().wrap("stdio relay"));
  }
  e->proc_.attach_stdio(std::move(*relays), std::move(stdio->pty.master));

  const char go = init_sync::kStart;
  if (::send(sync.get(), &go, 1, MSG_NOSIGNAL) != 1) {
    e->proc_.kill_and_reap();
    return refuse(errno_error("exec process is gone"));
  }
  // EOF: the close-on-exec end went with a successful execve (or the
  // process was killed meanwhile: its exit event follows).
  report = read_report(sync.get(), kReadyTimeoutMs);
  if (report.kind == InitReport::kFailed || report.kind == InitReport::kTimedOut) {
    e->proc_.kill_and_reap();
    return refusal_of(report);
  }
  return e;
}

// Only when the agent ends; proc_ kills a process still running.
ExecProcess::~ExecProcess() = default;

Status ExecProcess::signal(int sig) { return proc_.signal(sig); }

Status ExecProcess::resize(uint16_t rows, uint16_t cols) { return proc_.resize(rows, cols); }

void ExecProcess::on_reaped(int status) { proc_.on_reaped(status); }

std::optional<proto::ExecExit> ExecProcess::take_exit() {
  auto status = proc_.take_exit_status();
  if (!status) return std::nullopt;
  return proto::ExecExit{container_id_, exec_id_, static_cast<uint32_t>(*status)};
}

}  // namespace runvm::agent
