#include "runtime/shim_launcher.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "spec/base/unique_fd.h"

namespace runvm::cli {

Result<std::string> find_shim_binary() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return make_error("cannot locate runvm itself: " + ec.message());
  for (auto p :
       {exe.parent_path() / "runvm-shim", exe.parent_path().parent_path() / "shim/runvm-shim"}) {
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return make_error("runvm-shim not found next to " + exe.string(), ENOENT);
}

namespace {

// Spawns `argv` with --ready-fd appended and reads the shim's one-line
// report (empty when it exited without one).
Result<pid_t> spawn_reporting(std::vector<std::string> argv, bool null_stdio, int netns,
                              bool fresh_netns, std::string& report,
                              const ShimPlacement& placement = {}) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return errno_error("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  // With placement.place, the child waits on this until it is placed.
  UniqueFd gate_rd, gate_wr;
  if (placement.place) {
    if (pipe2(p, O_CLOEXEC) < 0) return errno_error("pipe");
    gate_rd.reset(p[0]);
    gate_wr.reset(p[1]);
  }
  argv.push_back("--ready-fd");
  argv.push_back(std::to_string(wr.get()));
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  UniqueFd devnull;
  if (null_stdio) {
    devnull.reset(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devnull) return errno_error("open /dev/null");
  }
  pid_t pid = fork();
  if (pid < 0) return errno_error("fork");
  if (pid == 0) {
    if (devnull)
      for (int fd = 0; fd <= 2; ++fd) dup2(devnull.get(), fd);
    // Only the report pipe crosses exec besides stdio.
    fcntl(wr.get(), F_SETFD, 0);
    if (netns >= 0 && setns(netns, CLONE_NEWNET) < 0) {
      dprintf(wr.get(), "error: joining the network namespace: %s\n", strerror(errno));
      _exit(127);
    }
    if (netns < 0 && fresh_netns && unshare(CLONE_NEWNET) < 0) {
      dprintf(wr.get(), "error: a new network namespace: %s\n", strerror(errno));
      _exit(127);
    }
    if (gate_rd) {
      gate_wr.reset();
      char go = 0;
      while (read(gate_rd.get(), &go, 1) < 0 && errno == EINTR) {
      }
      if (go != 'g') _exit(127);  // the parent reports why
    }
    // "0" moves the writer: the shim, and so QEMU, its child, start in the cgroup.
    for (int fd : placement.cgroup_procs) {
      if (write(fd, "0", 1) != 1) {
        dprintf(wr.get(), "error: joining the host cgroup: %s\n", strerror(errno));
        _exit(127);
      }
    }
    execv(cargv[0], cargv.data());
    dprintf(wr.get(), "error: exec %s: %s\n", cargv[0], strerror(errno));
    _exit(127);
  }
  wr.reset();
  if (gate_rd) {
    gate_rd.reset();
    Status placed = placement.place(pid);
    if (!placed.ok()) {
      kill(pid, SIGKILL);
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      return std::move(placed).error();
    }
    if (write(gate_wr.get(), "g", 1) != 1) {
      Error e = errno_error("start the shim");
      kill(pid, SIGKILL);
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      return e;
    }
    gate_wr.reset();
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(rd.get(), buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    report.append(buf, static_cast<size_t>(n));
    if (report.find('\n') != std::string::npos) break;
  }
  return pid;
}

std::string sigabbrev(int sig) {
  const char* name = sigabbrev_np(sig);
  return name ? std::string("SIG") + name : "signal " + std::to_string(sig);
}

// The shim's error once it exited without the report `ok`.
Error shim_failure(pid_t pid, std::string report, const std::string& what) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!report.empty() && report.back() == '\n') report.pop_back();
  if (report.rfind("error: ", 0) == 0) return make_error(report.substr(7));
  // Killed (e.g. kill -9 while the VM boots) or gone without a word.
  if (WIFSIGNALED(status))
    return make_error("runvm-shim was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                      sigabbrev(WTERMSIG(status)) + ") before " + what);
  return make_error("runvm-shim exited with status " + std::to_string(WEXITSTATUS(status)) +
                    " before " + what);
}

}  // namespace

Result<pid_t> launch_shim(std::vector<std::string> argv, bool null_stdio, int netns,
                          bool fresh_netns, const ShimPlacement& placement) {
  std::string report;
  pid_t pid = RUNVM_TRY(
      spawn_reporting(std::move(argv), null_stdio, netns, fresh_netns, report, placement));
  if (report.rfind("created\n", 0) == 0) return pid;
  return shim_failure(pid, std::move(report), "the container was created");
}

Status run_shim_check(std::vector<std::string> argv) {
  std::string report;
  pid_t pid = RUNVM_TRY(spawn_reporting(std::move(argv), false, -1, false, report));
  int status = 0;
  if (report == "ok\n") {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    return make_error("runvm-shim --check exited with status " + std::to_string(status));
  }
  return shim_failure(pid, std::move(report), "its check was done");
}

}  // namespace runvm::cli
