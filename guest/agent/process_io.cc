#include "guest/agent/process_io.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

#include "guest/agent/process_init.h"

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

Result<ProcessStdio> open_process_stdio(const proto::StdioPorts& ports,
                                        const proto::Process& process,
                                        const std::function<Result<UniqueFd>(uint32_t)>& dial) {
  auto dial_port = [&](uint32_t port, const char* what) -> Result<UniqueFd> {
    if (port == 0) return open_null();
    return dial(port).context(std::string("dialing ") + what + " port " + std::to_string(port));
  };
  ProcessStdio s;
  s.in = RUNVM_TRY(dial_port(ports.stdin_port, "stdin"));
  s.out = RUNVM_TRY(dial_port(ports.stdout_port, "stdout"));
  if (process.terminal) {
    s.pty = RUNVM_TRY(open_pty(process.console_size).context("terminal"));
    for (int& fd : s.fds) fd = s.pty.slave.get();
  } else {
    s.err = RUNVM_TRY(dial_port(ports.stderr_port, "stderr"));
    s.fds[0] = s.in.get();
    s.fds[1] = s.out.get();
    s.fds[2] = s.err.get();
  }
  return s;
}

Result<TerminalRelays> start_terminal_relays(ProcessStdio& stdio, bool has_stdin, EventLoop& loop,
                                             std::function<void()> on_progress) {
  TerminalRelays r;
  UniqueFd master_in = RUNVM_TRY(dup_fd(stdio.pty.master.get()));
  r.output =
      RUNVM_TRY(Relay::create(loop, std::move(master_in), std::move(stdio.out), on_progress));
  if (has_stdin) {
    UniqueFd master_out = RUNVM_TRY(dup_fd(stdio.pty.master.get()));
    r.input =
        RUNVM_TRY(Relay::create(loop, std::move(stdio.in), std::move(master_out), on_progress));
  }
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

InitReport read_report(int sync_fd, int timeout_ms) {
  pollfd p{sync_fd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return {InitReport::kTimedOut};
  char buf[2 + init_sync::kMaxMessage];
  ssize_t got;
  do {
    got = ::recv(sync_fd, buf, sizeof buf, 0);
  } while (got < 0 && errno == EINTR);
  if (got == 1 && buf[0] == init_sync::kReady) return {InitReport::kReady};
  if (got >= 2 && buf[0] == init_sync::kFailed)
    return {InitReport::kFailed, static_cast<uint8_t>(buf[1]),
            std::string(buf + 2, static_cast<size_t>(got - 2))};
  return {InitReport::kClosed};
}

}  // namespace runvm::agent
