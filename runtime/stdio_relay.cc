#include "runtime/stdio_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "guest/protocol/frame.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {
namespace {

using Clock = std::chrono::steady_clock;
// How long output may still arrive after the process ended (background
// processes may keep its streams open): kDrain since the last byte came
// (a slow reader of ours holds it up, and must not lose the rest), at most
// kDrainMax since the end.
constexpr auto kDrain = std::chrono::seconds(5);
constexpr auto kDrainMax = std::chrono::minutes(5);
constexpr size_t kChunk = 64 * 1024;

// Signals we pass on: our pid stands for the process. They stay blocked
// after the relay (a late one must not kill us before cleanup); children we
// spawn later (hooks) reset their mask.
sigset_t forwarded() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&s, sig);
  return s;
}

void set_nonblocking(int fd) {
  if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Copies one chunk; returns the bytes copied, -1 at EOF or error (EIO: a
// pty whose slave closed).
ssize_t copy_out(int from, int to) {
  char buf[kChunk];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (n <= 0) return -1;
  if (to >= 0) (void)proto::write_all(to, buf, static_cast<size_t>(n));  // closed: dropped
  return n;
}

}  // namespace

Result<int> relay(const RelayStreams& s, RelayPeer& peer, const RelayWindow& window) {
  sigset_t fwd = forwarded();
  sigprocmask(SIG_BLOCK, &fwd, nullptr);
  UniqueFd sigfd(signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) return errno_error("signalfd");
  // Input is written without blocking so output keeps flowing meanwhile.
  set_nonblocking(s.in_to);
  set_nonblocking(s.out_from);
  set_nonblocking(s.err_from);
  auto resize = [&] {
    if (!window.changed) return;
    if (auto ws = window.changed()) peer.resize(*ws);
  };
  resize();

  int in_from = s.in_from, out_from = s.out_from, err_from = s.err_from;
  std::string pending;  // input not yet taken by the process's stream
  std::optional<int> status;
  Clock::time_point deadline, drain_end;
  const bool polled = window.changed && window.poll_ms >= 0;
  auto next_check = Clock::now() + std::chrono::milliseconds(window.poll_ms);
  while (true) {
    if (status && out_from < 0 && err_from < 0) return *status;
    int timeout = -1;
    if (polled && !status) {
      if (Clock::now() >= next_check) {
        resize();
        next_check = Clock::now() + std::chrono::milliseconds(window.poll_ms);
      }
      timeout = window.poll_ms;
    }
    if (status) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return *status;
      timeout = static_cast<int>(left.count());
    }
    bool want_in = !status && pending.empty() && s.in_to >= 0;
    pollfd fds[6] = {
        {want_in ? in_from : -1, POLLIN, 0},
        {!pending.empty() ? s.in_to : -1, POLLOUT, 0},
        {out_from, POLLIN, 0},
        {err_from, POLLIN, 0},
        {status ? -1 : peer.fd(), POLLIN, 0},
        {sigfd.get(), POLLIN, 0},
    };
    int ready = poll(fds, 6, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return errno_error("poll");
    }
    if (fds[0].revents) {
      char buf[kChunk];
      ssize_t n = read(in_from, buf, sizeof buf);
      if (n > 0) {
        pending.assign(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        in_from = -1;  // EOF reaches the process as EOF on its stdin
        shutdown(s.in_to, SHUT_WR);
      }
    }
    if (fds[1].revents) {
      ssize_t n = send(s.in_to, pending.data(), pending.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == ENOTSOCK) n = write(s.in_to, pending.data(), pending.size());
      if (n > 0) pending.erase(0, static_cast<size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        pending.clear();  // the process closed its stdin: drop input
        in_from = -1;
      }
    }
    auto out = [&](int& from, int to) {
      ssize_t n = copy_out(from, to);
      if (n < 0) from = -1;
      if (n > 0 && status) deadline = std::min(Clock::now() + kDrain, drain_end);
    };
    if (fds[2].revents) out(out_from, s.out_to);
    if (fds[3].revents) out(err_from, s.err_to);
    if (fds[4].revents) {
      status = RUNVM_TRY(peer.on_readable());
      if (status) {
        deadline = Clock::now() + kDrain;
        drain_end = Clock::now() + kDrainMax;
      }
    }
    if (fds[5].revents) {
      signalfd_siginfo si;
      while (read(sigfd.get(), &si, sizeof si) == sizeof si) {
        if (status) continue;
        if (si.ssi_signo == SIGWINCH)
          resize();
        else
          peer.signal(si);
      }
    }
  }
}

}  // namespace runvm::cli
