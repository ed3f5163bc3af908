#include "runtime/exec_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include "guest/protocol/frame.h"
#include "shim/control/control.h"
#include "shim/control/exec_control.h"

namespace runvm::cli {
namespace {

using Clock = std::chrono::steady_clock;
// How long output may still arrive after the process exited.
constexpr auto kDrain = std::chrono::seconds(5);
constexpr size_t kChunk = 64 * 1024;

// Signals we pass on: our pid stands for the exec'd process.
sigset_t forwarded() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&s, sig);
  return s;
}

void send_request(int control, const control::Request& r) {
  (void)proto::write_frame(control, control::encode(r));  // its exit report tells the rest
}

void send_window_size(int control) {
  winsize ws{};
  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0) return;
  control::Request r;
  r.op = "resize";
  r.rows = ws.ws_row;
  r.cols = ws.ws_col;
  send_request(control, r);
}

// Copies one chunk from `from` to our blocking stdio fd; false at EOF/error.
bool copy_out(int from, int to) {
  char buf[kChunk];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  (void)proto::write_all(to, buf, static_cast<size_t>(n));  // a closed stdout drops output
  return true;
}

}  // namespace

Result<int> relay_exec(ExecStreams s) {
  sigset_t fwd = forwarded();
  sigprocmask(SIG_BLOCK, &fwd, nullptr);
  UniqueFd sigfd(signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) return errno_error("signalfd");
  // Input is written without blocking so output keeps flowing meanwhile.
  fcntl(s.in.get(), F_SETFL, fcntl(s.in.get(), F_GETFL) | O_NONBLOCK);
  if (s.terminal) send_window_size(s.control.get());

  proto::FrameDecoder decoder(64 * 1024);
  std::string pending;  // stdin bytes not yet taken by the stream
  bool stdin_open = true;
  std::optional<int> status;
  Clock::time_point deadline;
  while (true) {
    if (status && (!s.out.valid() && !s.err.valid())) return *status;
    int timeout = -1;
    if (status) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return *status;
      timeout = static_cast<int>(left.count());
    }
    bool want_stdin = !status && stdin_open && pending.empty() && s.in.valid();
    pollfd fds[6] = {
        {want_stdin ? STDIN_FILENO : -1, POLLIN, 0},
        {!pending.empty() ? s.in.get() : -1, POLLOUT, 0},
        {s.out.get(), POLLIN, 0},
        {s.err.get(), POLLIN, 0},
        {status ? -1 : s.control.get(), POLLIN, 0},
        {sigfd.get(), POLLIN, 0},
    };
    if (poll(fds, 6, timeout) < 0) {
      if (errno == EINTR) continue;
      return errno_error("poll");
    }
    if (fds[0].revents) {
      char buf[kChunk];
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n > 0) {
        pending.assign(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        stdin_open = false;  // EOF reaches the process as EOF on its stdin
        shutdown(s.in.get(), SHUT_WR);
      }
    }
    if (fds[1].revents) {
      ssize_t n = send(s.in.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
      if (n > 0) pending.erase(0, static_cast<size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        pending.clear();  // the process closed its stdin: drop input
        stdin_open = false;
      }
    }
    if (fds[2].revents && !copy_out(s.out.get(), STDOUT_FILENO)) s.out.reset();
    if (fds[3].revents && !copy_out(s.err.get(), STDERR_FILENO)) s.err.reset();
    if (fds[4].revents) {
      char buf[4096];
      ssize_t n = read(s.control.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return make_error("the container's shim went away");
      RUNVM_CHECK(decoder.feed(std::string_view(buf, static_cast<size_t>(n))));
      auto frame = RUNVM_TRY(decoder.next());
      if (frame) {
        status = RUNVM_TRY(control::parse_exec_exit(*frame).context("shim"));
        deadline = Clock::now() + kDrain;
      }
    }
    if (fds[5].revents) {
      signalfd_siginfo si;
      while (read(sigfd.get(), &si, sizeof si) == sizeof si) {
        if (status) continue;
        if (si.ssi_signo == SIGWINCH) {
          if (s.terminal) send_window_size(s.control.get());
          continue;
        }
        control::Request r;
        r.op = "kill";
        r.signal = static_cast<int>(si.ssi_signo);
        send_request(s.control.get(), r);
      }
    }
  }
}

}  // namespace runvm::cli
