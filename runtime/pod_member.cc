#include "runtime/pod_member.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "runtime/exec_client.h"
#include "shim/client/console.h"
#include "spec/base/log.h"
#include "spec/base/state_layout.h"
#include "spec/base/wait_status.h"

namespace runvm::cli {

std::optional<std::string> runvm_shim_owner(const std::string& root, long pid) {
  DIR* d = opendir(root.c_str());
  if (!d) return std::nullopt;
  std::optional<std::string> owner;
  while (dirent* e = readdir(d)) {
    std::string id = e->d_name;
    if (!validate_id(id).ok()) continue;  // ".", "..", the socket dirs
    std::ifstream in(root + "/" + id + "/" + layout::kStateFile);
    if (!in) continue;
    std::stringstream text;
    text << in.rdbuf();
    auto state = oci::parse_persisted_state(text.str());
    if (!state.ok() || state->shim.pid != pid || !shim_alive(*state)) continue;
    owner = id;
    break;
  }
  closedir(d);
  return owner;
}

Result<Container> running_sandbox(const GlobalOptions& g, const std::string& sandbox_id) {
  auto not_running = [&] {
    return make_error("sandbox \"" + sandbox_id + "\": not a running runvm container", ESRCH);
  };
  if (!validate_id(sandbox_id).ok()) return not_running();
  auto c = load_container(g, sandbox_id);
  if (!c.ok()) return not_running();
  if (c->state.status != oci::Status::kCreated && c->state.status != oci::Status::kRunning)
    return not_running();
  auto pod = c->state.shim.extra.find(kPodExtraKey);
  if (pod == c->state.shim.extra.end() || pod->second != kPodSandbox)
    return make_error("sandbox \"" + sandbox_id +
                      "\": its VM takes no members (not created as a pod sandbox)");
  return c;
}

Result<PodRole> container_pod_role(const GlobalOptions& g, const oci::Config& config,
                                   const std::string& id) {
  return pod_role(config, id, [&](long pid) { return runvm_shim_owner(g.root, pid); });
}

std::string shim_socket_of(const Container& c) {
  return c.state.shim.socket.empty() ? c.dir.socket(layout::kShimSocket) : c.state.shim.socket;
}

std::string vsock_socket_of(const Container& c) {
  std::string shim = shim_socket_of(c);
  return shim.substr(0, shim.rfind('/') + 1) + layout::kVsockSocket;
}

namespace {

// The relay, in the child: never returns.
[[noreturn]] void run_relay(const Container& member, const Container& sandbox,
                            const oci::Process& process, const std::string& console_socket,
                            bool start, int report) {
  auto fail = [&](const Error& e) {
    std::string line = "error: " + e.message + "\n";
    [[maybe_unused]] auto w = write(report, line.data(), line.size());
    _exit(1);
  };
  std::optional<Console> console;
  if (process.terminal) {
    std::optional<winsize> size;
    if (process.console_size)
      size = winsize{static_cast<unsigned short>(process.console_size->height),
                     static_cast<unsigned short>(process.console_size->width), 0, 0};
    auto c = Console::open_and_send(console_socket, size);
    if (!c.ok()) fail(c.error());
    console = std::move(*c);
  }
  auto streams = open_relay_streams(
      vsock_socket_of(sandbox), process.terminal, [&](const proto::StdioPorts& ports) {
        control::Create req{member.state.bundle, member.dir.path(), ports, start};
        // The agent creates the process under TCG in seconds; be generous.
        return control::open_member(shim_socket_of(sandbox), member.state.id, req, 60000);
      });
  if (!streams.ok()) fail(streams.error());
  streams->terminal = process.terminal;
  if (console) streams->tty.console = &*console;
  [[maybe_unused]] auto w = write(report, "created\n", 8);
  close(report);
  // With a console the caller's stdio is not the process's: let it go, or a
  // caller reading it to EOF (go-runc, conmon) waits for the member.
  if (console) {
    UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (null)
      for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) dup2(null.get(), fd);
  }
  auto status = relay_exec(std::move(*streams));
  // The shim went without reporting: its VM, and the member in it, are
  // gone (the sandbox was deleted or killed). Say so as runc's init would.
  if (!status.ok()) status = SIGKILL;
  _exit(become_wait_status(*status));
}

}  // namespace

Result<pid_t> launch_member_relay(const Container& member, const Container& sandbox,
                                  const oci::Process& process, const std::string& console_socket,
                                  int lock_fd, int netns_fd, bool fresh_netns, bool start,
                                  const std::function<Status()>& first,
                                  const std::function<Status(pid_t)>& alongside) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return errno_error("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t child = fork();
  if (child < 0) return errno_error("fork");
  if (child == 0) {
    rd.reset();
    if (lock_fd >= 0) close(lock_fd);
    if (first) {
      if (Status s = first(); !s.ok()) {
        std::string line = "error: " + s.error().message + "\n";
        [[maybe_unused]] auto w = write(wr.get(), line.data(), line.size());
        _exit(1);
      }
    }
    if (netns_fd >= 0 ? setns(netns_fd, CLONE_NEWNET) != 0
                      : fresh_netns && unshare(CLONE_NEWNET) != 0) {
      std::string line = std::string("error: the network namespace: ") + strerror(errno) + "\n";
      [[maybe_unused]] auto w = write(wr.get(), line.data(), line.size());
      _exit(1);
    }
    run_relay(member, sandbox, process, console_socket, start, wr.release());
  }
  wr.reset();
  if (alongside) {
    if (Status s = alongside(child); !s.ok()) {
      kill(child, SIGKILL);  // the shim sees its relay go and ends the member
      waitpid(child, nullptr, 0);
      return std::move(s).error();
    }
  }
  std::string line;
  char buf[512];
  for (ssize_t n; (n = read(rd.get(), buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  if (line == "created\n") return child;
  waitpid(child, nullptr, 0);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (line.rfind("error: ", 0) == 0) return make_error(line.substr(7));
  return make_error("the member's relay exited before reporting");
}

void wait_member_unbound(const GlobalOptions& g, const Container& member) {
  auto sb = member.state.shim.extra.find(kPodMemberOf);
  if (sb == member.state.shim.extra.end() || !validate_id(sb->second).ok()) return;
  std::string pod = g.root + "/" + sb->second + "/" + layout::kPodDir;
  auto bound = [&] { return member_bound(pod, member.state.id); };
  // The shim unbinds when the agent reports the member's exit: well within
  // this under TCG.
  for (int i = 0; i < 1000 && bound(); ++i) usleep(10 * 1000);
  if (bound()) log::warn("pod member " + member.state.id + ": still bound in " + pod);
}

}  // namespace runvm::cli
