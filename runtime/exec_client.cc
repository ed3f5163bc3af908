#include "runtime/exec_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>

#include "guest/protocol/constants.h"
#include "guest/protocol/stdio_kind.h"
#include "runtime/pod_member.h"
#include "shim/client/control.h"
#include "spec/base/state_layout.h"
#include "spec/base/unix_socket.h"

namespace runvm::cli {
namespace {

// The agent may be slow to start a process under TCG; past this, give up.
constexpr int kStartTimeoutMs = 60000;

// A hybrid-vsock port we serve: the guest's connection to it arrives here.
class PortListener {
 public:
  PortListener() = default;
  PortListener(PortListener&& o) noexcept : fd_(std::move(o.fd_)), path_(std::move(o.path_)) {
    o.path_.clear();
  }
  PortListener& operator=(PortListener&& o) noexcept {
    std::swap(fd_, o.fd_);
    std::swap(path_, o.path_);
    return *this;
  }
  ~PortListener() {
    if (!path_.empty()) unlink(path_.c_str());
  }

  // Fails with EADDRINUSE when the port is taken.
  static Result<PortListener> bind(const std::string& path) {
    PortListener l;
    l.fd_ = RUNVM_TRY(listen_unix(path, {.backlog = 1}));
    l.path_ = path;
    return l;
  }

  // The guest's connection; the agent dialed before the shim replied.
  Result<UniqueFd> accept_within(int timeout_ms) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
      return make_error("the exec'd process's stdio never connected");
    UniqueFd conn(accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return errno_error("accept");
    return conn;
  }

 private:
  UniqueFd fd_;
  std::string path_;
};

struct StdioListeners {
  proto::StdioPorts ports;
  std::array<PortListener, 3> listeners;  // stdin, stdout, stderr
};

// Three consecutive free ports from a random start (bind claims them).
Result<StdioListeners> listen_stdio(const std::string& vsock_path) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r) return errno_error("getrandom");
    uint32_t base = proto::kExecPortMin + r % proto::kExecPortSpan;
    StdioListeners s;
    Status st;
    for (uint32_t i = 0; i < 3 && st.ok(); ++i) {
      auto l = PortListener::bind(layout::vsock_port_socket(vsock_path, base + i));
      if (l.ok())
        s.listeners[i] = std::move(*l);
      else
        st = std::move(l).error();
    }
    if (st.ok()) {
      s.ports = {base, base + 1, base + 2};
      return s;
    }
    if (st.error().code != EADDRINUSE) return std::move(st).error();
  }
  return make_error("no free vsock ports for the exec's stdio");
}

// As runc exec: detached, the process gets our stdio itself, so the same
// kind of fd in the guest (a regular file excepted: a pipe) and no stream
// for /dev/null (stdio_kind.h); in
// the foreground runc copies through pipes of its own: pipes. A terminal's
// pty carries stdin and stdout both.
void choose_kinds(proto::StdioPorts& ports, bool terminal, bool detach) {
  uint32_t* port[3] = {&ports.stdin_port, &ports.stdout_port, &ports.stderr_port};
  proto::StdioKind* kind[3] = {&ports.stdin_kind, &ports.stdout_kind, &ports.stderr_kind};
  for (int fd = 0; fd < 3; ++fd) {
    auto k = terminal  ? std::optional(proto::StdioKind::kTty)
             : !detach ? std::optional(proto::StdioKind::kPipe)
                       : proto::stdio_kind_of_fd(fd);
    if (terminal && fd == 2) k.reset();
    // A file would need a share of ours in the VM: it is relayed instead.
    if (k == proto::StdioKind::kFile || k == proto::StdioKind::kAppendFile)
      k = proto::StdioKind::kPipe;
    if (k)
      *kind[fd] = *k;
    else
      *port[fd] = 0;
  }
}

// The guest's connections; the listeners (and their names) go.
Status accept_streams(StdioListeners listeners, ExecStreams& s) {
  const proto::StdioPorts& p = listeners.ports;
  if (p.stdin_port) s.in = RUNVM_TRY(listeners.listeners[0].accept_within(5000));
  if (p.stdout_port) s.out = RUNVM_TRY(listeners.listeners[1].accept_within(5000));
  if (p.stderr_port) s.err = RUNVM_TRY(listeners.listeners[2].accept_within(5000));
  return {};
}

void stdio_to_null() {
  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) return;
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) dup2(null.get(), fd);
}

}  // namespace

Result<int> run_exec(const Container& ct, const proto::Process& process, const ExecRun& o) {
  // A pod member's VM is its sandbox's: so are the sockets.
  auto stdio = RUNVM_TRY(listen_stdio(vsock_socket_of(ct)));
  choose_kinds(stdio.ports, process.terminal, o.detach);
  proto::Process sized = process;
  if (!process.terminal) sized.console_size = proto::tty_stream_size(stdio.ports);
  auto session = RUNVM_TRY(
      control::open_exec(shim_socket_of(ct), ct.state.id, {sized, stdio.ports}, kStartTimeoutMs));
  RUNVM_CHECK(std::move(session.reply.status));

  ExecStreams streams;
  streams.terminal = process.terminal;
  streams.tty = o.tty;
  streams.control = std::move(session.conn);
  RUNVM_CHECK(accept_streams(std::move(stdio), streams));

  if (!o.detach) {
    if (!o.pid_file.empty()) RUNVM_CHECK(write_pid_file(o.pid_file, getpid()));
    return relay_exec(std::move(streams));
  }
  pid_t child = fork();
  if (child < 0) return errno_error("fork");
  if (child == 0) {
    // With a console the caller's stdio is not the process's: let it go, or
    // a caller reading it to EOF (go-runc, conmon) waits for the process.
    if (o.tty.console) stdio_to_null();
    auto status = relay_exec(std::move(streams));
    if (!status.ok()) _exit(1);
    _exit(WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status));
  }
  // We only hand over: the child holds the process's streams from now on.
  if (!o.pid_file.empty()) RUNVM_CHECK(write_pid_file(o.pid_file, child));
  return 0;
}

Result<ExecStreams> open_relay_streams(
    const std::string& vsock_path, bool terminal,
    const std::function<Result<UniqueFd>(const proto::StdioPorts&)>& open) {
  auto stdio = RUNVM_TRY(listen_stdio(vsock_path));
  choose_kinds(stdio.ports, terminal, /*detach=*/true);
  ExecStreams streams;
  streams.control = RUNVM_TRY(open(stdio.ports));
  RUNVM_CHECK(accept_streams(std::move(stdio), streams));
  return streams;
}

}  // namespace runvm::cli
