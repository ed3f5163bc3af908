#include "shim/engine/child_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace runvm {
namespace {

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so call the kernel directly.
int pidfd_open(pid_t pid, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}
int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace

// PATH lookup done before fork: the child of a threaded process may only
// make async-signal-safe calls.
Result<std::string> find_program(const std::string& name) {
  if (name.empty()) return make_error("empty program name");
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  for (;;) {
    size_t end = dirs.find(':', start);
    std::string dir = dirs.substr(start, end == std::string::npos ? end : end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return make_error(name + ": not found in PATH", ENOENT);
}

namespace {

Result<UniqueFd> above_stdio(UniqueFd fd) {
  if (!fd) return errno_error("spawn: open");
  if (fd.get() > 2) return fd;
  UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
  if (!moved) return errno_error("spawn: fcntl");
  return moved;
}

// What the child reports on the pipe when it cannot get to the program.
struct ChildFailure {
  enum Stage : int { kSetup, kConfine, kExec } stage;
  int err;
};

[[noreturn]] void child_fail(int report_fd, ChildFailure::Stage stage, int err) {
  ChildFailure f{stage, err};
  (void)!::write(report_fd, &f, sizeof f);
  ::_exit(127);
}

// Runs in the forked child: async-signal-safe calls only.
[[noreturn]] void exec_child(pid_t parent, const char* program, char* const* argv, int null_fd,
                             int log_fd, int report_fd, const int* inherit, size_t n_inherit,
                             const PreparedConfinement* confinement) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(report_fd, ChildFailure::kSetup, errno);
  // The parent may have died before the prctl took effect.
  if (::getppid() != parent) ::_exit(127);
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);  // EINVAL for some: fine
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::dup2(null_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0)
    child_fail(report_fd, ChildFailure::kSetup, errno);
  // Mark, not close, everything else: report_fd must survive until exec.
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
    child_fail(report_fd, ChildFailure::kSetup, errno);
  for (size_t i = 0; i < n_inherit; ++i)
    if (::fcntl(inherit[i], F_SETFD, 0) != 0) child_fail(report_fd, ChildFailure::kSetup, errno);
  if (confinement) {
    if (int err = confine_child(*confinement); err != 0)
      child_fail(report_fd, ChildFailure::kConfine, err);
    // A change of uid clears the parent-death signal: set it again.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(report_fd, ChildFailure::kSetup, errno);
    if (::getppid() != parent) ::_exit(127);
  }
  ::execv(program, argv);
  child_fail(report_fd, ChildFailure::kExec, errno);
}

}  // namespace

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      pidfd_(std::move(o.pidfd_)),
      status_(o.status_),
      cpu_ms_(o.cpu_ms_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    kill_and_reap();
    pid_ = std::exchange(o.pid_, -1);
    pidfd_ = std::move(o.pidfd_);
    status_ = o.status_;
    cpu_ms_ = o.cpu_ms_;
  }
  return *this;
}

ChildProcess::~ChildProcess() { kill_and_reap(); }

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                         const std::string& log_path,
                                         const std::vector<int>& inherit,
                                         const PreparedConfinement* confinement) {
  if (argv.empty()) return make_error("spawn: empty argv");
  for (int fd : inherit)
    if (fd <= 2 || ::fcntl(fd, F_GETFD) < 0)
      return make_error("spawn: fd " + std::to_string(fd) + " cannot be inherited");
  std::string program = RUNVM_TRY(find_program(argv[0]).context("spawn"));
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) return errno_error("spawn: /dev/null");
  UniqueFd log_fd;
  if (log_path.empty()) {
    log_fd.reset(::dup(null_fd.get()));
  } else {
    log_fd.reset(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    if (!log_fd) return errno_error("spawn: " + log_path);
  }
  // Keep both above 2 so the child's dup2 onto 0..2 cannot clobber them.
  null_fd = RUNVM_TRY(above_stdio(std::move(null_fd)));
  log_fd = RUNVM_TRY(above_stdio(std::move(log_fd)));
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return errno_error("spawn: pipe");
  UniqueFd report_r(report[0]), report_w(report[1]);

  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return errno_error("spawn: fork");
  if (pid == 0)
    exec_child(parent, program.c_str(), cargv.data(), null_fd.get(), log_fd.get(), report_w.get(),
               inherit.data(), inherit.size(), confinement);

  ChildProcess child;
  child.pid_ = pid;
  // Not reaped yet, so the pid cannot have been reused.
  child.pidfd_.reset(pidfd_open(pid, 0));
  if (!child.pidfd_) return errno_error("spawn: pidfd_open");  // destructor kills + reaps
  report_w.reset();
  ChildFailure failure{};
  ssize_t n;
  do n = ::read(report_r.get(), &failure, sizeof failure);
  while (n < 0 && errno == EINTR);
  if (n == sizeof failure) {
    static constexpr const char* kStage[] = {"set up", "confine", "exec"};
    return errno_error(std::string("spawn: ") + kStage[failure.stage] + " " + program, failure.err);
  }
  return child;
}

bool ChildProcess::exited() const {
  if (status_) return true;
  if (!pidfd_) return true;
  pollfd p{pidfd_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

Result<bool> ChildProcess::wait_exit(std::chrono::milliseconds timeout) const {
  if (status_ || !pidfd_) return true;
  pollfd p{pidfd_.get(), POLLIN, 0};
  int n;
  do n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("poll pidfd");
  return n > 0;
}

Status ChildProcess::signal(int sig) const {
  if (status_) return make_error("process already reaped", ESRCH);
  if (pidfd_send_signal(pidfd_.get(), sig) != 0) return errno_error("pidfd_send_signal");
  return {};
}

Result<int> ChildProcess::wait() {
  if (status_) return *status_;
  if (pid_ <= 0) return make_error("no process", ECHILD);
  int status = 0;
  rusage usage{};
  pid_t r;
  do r = ::wait4(pid_, &status, 0, &usage);
  while (r < 0 && errno == EINTR);
  if (r < 0) return errno_error("waitpid");
  status_ = status;
  auto ms = [](const timeval& t) { return int64_t{t.tv_sec} * 1000 + t.tv_usec / 1000; };
  cpu_ms_ = ms(usage.ru_utime) + ms(usage.ru_stime);
  pidfd_.reset();
  return status;
}

void ChildProcess::kill_and_reap() {
  if (pid_ <= 0 || status_) return;
  if (pidfd_)
    pidfd_send_signal(pidfd_.get(), SIGKILL);
  else
    ::kill(pid_, SIGKILL);
  (void)wait();
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return std::string("killed by signal ") +
           (name ? std::string("SIG") + name : std::to_string(WTERMSIG(status)));
  }
  return "wait status " + std::to_string(status);
}

}  // namespace runvm
