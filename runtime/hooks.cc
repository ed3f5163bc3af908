#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "runtime/network_namespace.h"
#include "spec/base/log.h"
#include "spec/base/unique_fd.h"

extern char** environ;

namespace runvm::cli {

namespace {

struct Pipe {
  UniqueFd rd, wr;
};

Result<Pipe> make_pipe() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return errno_error("pipe");
  return Pipe{UniqueFd(p[0]), UniqueFd(p[1])};
}

std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& ch : s)
    if (ch == '\n') ch = ' ';
  return s;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal: ") + strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

// Go prints durations like "%.1fs" in runc's timeout message.
std::string seconds(int64_t s) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(s));
  return buf;
}

// A hook that exits without reading its stdin must not kill us with SIGPIPE.
struct IgnoreSigpipe {
  struct sigaction old {};
  IgnoreSigpipe() {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);
  }
  ~IgnoreSigpipe() { sigaction(SIGPIPE, &old, nullptr); }
};

}  // namespace

Status run_hook(const oci::Hook& hook, const std::string& state_json) {
  auto in = RUNVM_TRY(make_pipe());
  auto out = RUNVM_TRY(make_pipe());
  auto err = RUNVM_TRY(make_pipe());
  auto exec_report = RUNVM_TRY(make_pipe());  // CLOEXEC: EOF means exec worked

  std::vector<std::string> args = hook.args.empty() ? std::vector{hook.path} : hook.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  char** child_env = hook.env.empty() ? environ : envp.data();

  pid_t pid = fork();
  if (pid < 0) return errno_error("fork");
  if (pid == 0) {
    dup2(in.rd.get(), STDIN_FILENO);
    dup2(out.wr.get(), STDOUT_FILENO);
    dup2(err.wr.get(), STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execve(hook.path.c_str(), argv.data(), child_env);
    int e = errno;
    [[maybe_unused]] auto w = write(exec_report.wr.get(), &e, sizeof e);
    _exit(127);
  }
  IgnoreSigpipe no_sigpipe;
  in.rd.reset();
  out.wr.reset();
  err.wr.reset();
  exec_report.wr.reset();
  int exec_errno = 0;
  if (read(exec_report.rd.get(), &exec_errno, sizeof exec_errno) == sizeof exec_errno) {
    waitpid(pid, nullptr, 0);
    return errno_error("exec " + hook.path, exec_errno);
  }

  using Clock = std::chrono::steady_clock;
  auto deadline =
      hook.timeout ? Clock::now() + std::chrono::seconds(*hook.timeout) : Clock::time_point::max();
  auto remaining_ms = [&]() -> int {
    if (deadline == Clock::time_point::max()) return 100;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::clamp<int64_t>(ms.count(), 0, 100));
  };
  fcntl(in.wr.get(), F_SETFL, O_NONBLOCK);
  size_t written = 0;
  std::string captured[2];
  UniqueFd* readers[2] = {&out.rd, &err.rd};
  int status = 0;
  bool exited = false;
  while (true) {
    if (!exited) {
      pid_t r = waitpid(pid, &status, WNOHANG);
      exited = r == pid;
    }
    // Done once the hook exited and its output is drained (as Go's Wait).
    if (exited && !out.rd && !err.rd) break;
    if (Clock::now() >= deadline) {
      kill(pid, SIGKILL);
      if (!exited) waitpid(pid, nullptr, 0);
      return make_error("hook ran past specified timeout of " + seconds(*hook.timeout));
    }
    pollfd fds[3] = {{in.wr ? in.wr.get() : -1, POLLOUT, 0},
                     {out.rd ? out.rd.get() : -1, POLLIN, 0},
                     {err.rd ? err.rd.get() : -1, POLLIN, 0}};
    if (poll(fds, 3, remaining_ms()) < 0 && errno != EINTR) return errno_error("poll");
    if (fds[0].revents) {
      ssize_t n = write(in.wr.get(), state_json.data() + written, state_json.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      // All written, or the hook does not read stdin: close it either way.
      if (n < 0 && errno == EAGAIN) continue;
      if (n <= 0 || written == state_json.size()) in.wr.reset();
    }
    for (int i = 0; i < 2; ++i) {
      if (!fds[i + 1].revents) continue;
      char buf[4096];
      ssize_t n = read(readers[i]->get(), buf, sizeof buf);
      if (n > 0 && captured[i].size() < 64 * 1024) captured[i].append(buf, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) readers[i]->reset();
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return make_error(describe_exit(status) + ", stdout: " + one_line(captured[0]) +
                    ", stderr: " + one_line(captured[1]));
}

Status run_hooks(std::string_view kind, const std::vector<oci::Hook>& hooks,
                 const std::string& state_json) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    log::debug(std::string(kind) + " hook #" + std::to_string(i) + ": " + hooks[i].path);
    RUNVM_CHECK(
        run_hook(hooks[i], state_json).context(std::string(kind) + " hook #" + std::to_string(i)));
  }
  return {};
}

void run_hooks_warn(std::string_view kind, const std::vector<oci::Hook>& hooks,
                    const std::string& state_json) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    auto r = run_hook(hooks[i], state_json);
    if (!r.ok())
      log::warn(std::string(kind) + " hook #" + std::to_string(i) + ": " + r.error().message);
  }
}

Status run_create_hooks(const Container& c, const oci::Hooks& hooks) {
  // The spec's prestart state is "created" (runc passes "creating"): by now
  // the VM is booted and the process created, stopped before exec.
  RUNVM_CHECK(run_hooks("prestart", hooks.prestart, hook_state(c, oci::Status::kCreated)));
  std::string state = hook_state(c, oci::Status::kCreating);
  RUNVM_CHECK(run_hooks("createRuntime", hooks.create_runtime, state));
  return run_hooks("createContainer", hooks.create_container, state);
}

Status start_with_hooks(const Container& c) {
  RUNVM_CHECK(check_netns_unchanged(c.dir, static_cast<pid_t>(c.state.shim.pid)));
  auto hooks = RUNVM_TRY(load_hooks(c.dir));
  auto pre =
      run_hooks("startContainer", hooks.start_container, hook_state(c, oci::Status::kCreated));
  if (!pre.ok()) {
    // The spec: a failed startContainer hook stops the container.
    kill(static_cast<pid_t>(c.state.shim.pid), SIGKILL);
    return pre;
  }
  RUNVM_CHECK(shim_request(c, control::Start{}));
  run_hooks_warn("poststart", hooks.poststart, hook_state(c, oci::Status::kRunning));
  return {};
}

void run_poststop_hooks(const Container& c, const oci::Hooks& hooks) {
  run_hooks_warn("poststop", hooks.poststop, hook_state(c, oci::Status::kStopped));
}

Result<oci::Hooks> load_hooks(const ContainerDir& dir) {
  auto config = RUNVM_TRY(load_config_snapshot(dir));
  return std::move(config.hooks);
}

std::string hook_state(const Container& c, oci::Status s) {
  oci::ContainerState st = c.state;
  st.status = s;
  if (s == oci::Status::kStopped) st.pid = 0;
  return oci::hook_state_json(st);
}

}  // namespace runvm::cli
