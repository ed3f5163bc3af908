#include "guest/agent/process_io.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "guest/agent/process_init.h"
#include "guest/protocol/constants.h"

namespace runvm::agent {

Result<UniqueFd> open_null() {
  UniqueFd fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!fd) return errno_error("open /dev/null");
  return fd;
}

Result<UniqueFd> dup_fd(int fd) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!copy) return errno_error("dup");
  return copy;
}

Status set_window_size(int pty_master, uint16_t rows, uint16_t cols) {
  winsize ws{rows, cols, 0, 0};
  if (::ioctl(pty_master, TIOCSWINSZ, &ws) < 0) return errno_error("TIOCSWINSZ");
  return {};
}

Status await_connected(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLOUT, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno_error("poll");
    if (r == 0) return make_error("connect: timed out", ETIMEDOUT);
    break;
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno_error("SO_ERROR");
  if (err != 0) return make_error(std::string("connect: ") + std::strerror(err), err);
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) return errno_error("fcntl");
  return {};
}

namespace {

// Above the kernel's own 2 s for a vsock connect the host does not answer.
constexpr std::chrono::milliseconds kConnectTimeout{5000};

// The guest object for one non-terminal stream: the process's end and ours.
Status open_stream_object(proto::StdioKind kind, bool input,
                          const std::optional<proto::ConsoleSize>& size, UniqueFd& child,
                          UniqueFd& local) {
  int fds[2];
  switch (kind) {
    case proto::StdioKind::kPipe:
      if (::pipe2(fds, O_CLOEXEC) < 0) return errno_error("pipe");
      // stdin: the process reads; stdout/stderr: it writes.
      child.reset(fds[input ? 0 : 1]);
      local.reset(fds[input ? 1 : 0]);
      return {};
    case proto::StdioKind::kSocket:
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
        return errno_error("socketpair");
      child.reset(fds[0]);
      local.reset(fds[1]);
      return {};
    case proto::StdioKind::kTty: {
      // Raw: the host's terminal does the line discipline (echo, CR/LF)
      // once; this pty only makes isatty() true, as the host fd is.
      Pty pty = RUNVM_TRY(open_pty(size));
      termios t;
      if (::tcgetattr(pty.slave.get(), &t) < 0) return errno_error("tcgetattr");
      ::cfmakeraw(&t);
      if (::tcsetattr(pty.slave.get(), TCSANOW, &t) < 0) return errno_error("tcsetattr");
      child = std::move(pty.slave);
      local = std::move(pty.master);
      return {};
    }
    case proto::StdioKind::kFile:
    case proto::StdioKind::kAppendFile:
      break;  // not a stream: open_stdio_file serves these
  }
  return make_error("unknown stdio kind");
}

bool is_file(proto::StdioKind k) {
  return k == proto::StdioKind::kFile || k == proto::StdioKind::kAppendFile;
}

// The host's stdio file `i`, on the stdio share (mounted once, outside any
// container's root), opened as the host's is.
Result<UniqueFd> open_stdio_file(int i, proto::StdioKind kind) {
  static constexpr char kDir[] = "/run/runvm/stdio";
  constexpr long kFuseSuperMagic = 0x65735546;
  struct statfs sf;
  if (::statfs(kDir, &sf) < 0 || sf.f_type != kFuseSuperMagic) {
    ::mkdir("/run/runvm", 0755);
    ::mkdir(kDir, 0700);
    if (::mount(proto::kStdioShareTag, kDir, "virtiofs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                nullptr) < 0)
      return errno_error(std::string("mounting the stdio share on ") + kDir);
  }
  int flags = i == 0 ? O_RDONLY : O_WRONLY;
  if (kind == proto::StdioKind::kAppendFile) flags |= O_APPEND;
  std::string path = std::string(kDir) + "/" + std::to_string(i);
  UniqueFd fd(::open(path.c_str(), flags | O_NOCTTY | O_CLOEXEC));
  if (!fd) return errno_error("open " + path);
  return fd;
}

}  // namespace

Result<ProcessStdio> open_process_stdio(const proto::StdioPorts& ports,
                                        const proto::Process& process,
                                        const std::function<Result<UniqueFd>(uint32_t)>& dial) {
  static constexpr const char* kNames[] = {"stdin", "stdout", "stderr"};
  const uint32_t port[3] = {ports.stdin_port, ports.stdout_port, ports.stderr_port};
  const proto::StdioKind kind[3] = {ports.stdin_kind, ports.stdout_kind, ports.stderr_kind};
  ProcessStdio s;
  // A terminal's pty carries stdout and stderr both.
  const int streams = process.terminal ? 2 : 3;
  // All dialed first, then awaited: their connects travel together.
  for (int i = 0; i < streams; ++i) {
    if (port[i] == 0) continue;
    s.stream[i] = RUNVM_TRY(dial(port[i]).context(std::string("dialing ") + kNames[i] + " port " +
                                                  std::to_string(port[i])));
  }
  for (int i = 0; i < streams; ++i) {
    if (port[i] == 0) continue;
    RUNVM_CHECK(
        await_connected(s.stream[i].get(), kConnectTimeout)
            .context(std::string("dialing ") + kNames[i] + " port " + std::to_string(port[i])));
  }
  if (process.terminal) {
    s.pty = RUNVM_TRY(open_pty(process.console_size).context("terminal"));
    for (int& fd : s.fds) fd = s.pty.slave.get();
  } else {
    for (int i = 0; i < 3; ++i) {
      if (is_file(kind[i]))
        s.child[i] = RUNVM_TRY(open_stdio_file(i, kind[i]).context(kNames[i]));
      else if (port[i] == 0)
        s.child[i] = RUNVM_TRY(open_null());
      else
        RUNVM_CHECK(
            open_stream_object(kind[i], i == 0, process.console_size, s.child[i], s.local[i])
                .context(kNames[i]));
      s.fds[i] = s.child[i].get();
    }
  }
  // As runc's fixStdioPermissions: the user owns its stdio (uid only), so
  // it can reopen it (/proc/self/fd/N, /dev/stdout) after dropping root.
  // The host's files stay the host's.
  for (int i = 0; i < 3; ++i) {
    if (!process.terminal && (port[i] == 0 || is_file(kind[i]))) continue;
    if (::fchown(s.fds[i], process.user.uid, static_cast<gid_t>(-1)) < 0 && errno != EINVAL &&
        errno != EPERM)
      return errno_error(std::string("chown ") + kNames[i]);
  }
  return s;
}

Result<StdioRelays> start_stdio_relays(ProcessStdio& stdio, bool terminal, EventLoop& loop,
                                       const std::function<void()>& on_progress) {
  for (auto& fd : stdio.child) fd.reset();
  StdioRelays r;
  if (terminal) {
    stdio.pty.slave.reset();  // the process holds it now: its close means EIO on the master
    UniqueFd master_in = RUNVM_TRY(dup_fd(stdio.pty.master.get()));
    r.outputs.push_back(RUNVM_TRY(
        Relay::create(loop, std::move(master_in), std::move(stdio.stream[1]), on_progress)));
    if (stdio.stream[0]) {
      UniqueFd master_out = RUNVM_TRY(dup_fd(stdio.pty.master.get()));
      r.inputs.push_back(RUNVM_TRY(
          Relay::create(loop, std::move(stdio.stream[0]), std::move(master_out), on_progress)));
    }
    return r;
  }
  if (stdio.local[0]) {
    // A stdin pty echoes nothing (raw), but what the process writes to its
    // fd 0 must not fill it up: drained and dropped.
    struct stat st;
    if (::fstat(stdio.local[0].get(), &st) == 0 && S_ISCHR(st.st_mode)) {
      UniqueFd master_in = RUNVM_TRY(dup_fd(stdio.local[0].get()));
      r.inputs.push_back(RUNVM_TRY(Relay::create(loop, std::move(master_in), {}, on_progress)));
    }
    r.inputs.push_back(RUNVM_TRY(
        Relay::create(loop, std::move(stdio.stream[0]), std::move(stdio.local[0]), on_progress)));
  }
  for (int i = 1; i < 3; ++i)
    if (stdio.local[i])
      r.outputs.push_back(RUNVM_TRY(
          Relay::create(loop, std::move(stdio.local[i]), std::move(stdio.stream[i]), on_progress)));
  return r;
}

Result<Pty> open_pty(const std::optional<proto::ConsoleSize>& size) {
  Pty pty;
  pty.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master) return errno_error("open /dev/ptmx");
  if (::grantpt(pty.master.get()) < 0 || ::unlockpt(pty.master.get()) < 0)
    return errno_error("unlockpt");
  char name[64];
  if (::ptsname_r(pty.master.get(), name, sizeof name) != 0) return errno_error("ptsname");
  pty.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave) return errno_error(std::string("open ") + name);
  if (size) {
    winsize ws{size->rows, size->cols, 0, 0};
    if (::ioctl(pty.master.get(), TIOCSWINSZ, &ws) < 0) return errno_error("TIOCSWINSZ");
  }
  return pty;
}

std::optional<InitReport> receive_report(int sync_fd) {
  char buf[2 + init_sync::kMaxMessage];
  ssize_t got;
  do {
    got = ::recv(sync_fd, buf, sizeof buf, MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::nullopt;
  if (got == 1 && buf[0] == init_sync::kReady) return InitReport{InitReport::kReady};
  if (got >= 2 && buf[0] == init_sync::kFailed)
    return InitReport{InitReport::kFailed, static_cast<uint8_t>(buf[1]),
                      std::string(buf + 2, static_cast<size_t>(got - 2))};
  return InitReport{InitReport::kClosed};
}

}  // namespace runvm::agent
