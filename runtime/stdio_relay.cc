#include "runtime/stdio_relay.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "spec/base/unique_fd.h"

namespace runvm::cli {
namespace {

using Clock = std::chrono::steady_clock;
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

// A local output end, which may be shared with others (inherited from our
// caller): writes to it must not block, or a reader that never reads would
// hold the relay past its drain, yet O_NONBLOCK on it would change it for
// every holder. A socket takes MSG_DONTWAIT; a pipe or terminal is opened
// again, non-blocking, through /proc/self/fd (a description of our own; not
// a pty master, which would open a new pty). Anything else (a regular
// file, /dev/null) does not wait for a reader; a pty master is given at
// most PIPE_BUF once poll said it takes some.
class Sink {
 public:
  explicit Sink(int fd) : fd_(fd) {
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return;
    socket_ = S_ISSOCK(st.st_mode);
    int ptn;
    bool master = S_ISCHR(st.st_mode) && ioctl(fd, TIOCGPTN, &ptn) == 0;
    if (S_ISFIFO(st.st_mode) || (S_ISCHR(st.st_mode) && isatty(fd) && !master)) {
      std::string self = "/proc/self/fd/" + std::to_string(fd);
      own_.reset(open(self.c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    }
    // One that may wait for its reader and is not ours to make non-blocking.
    bounded_ = !own_ && (S_ISFIFO(st.st_mode) || (S_ISCHR(st.st_mode) && isatty(fd)));
  }
  int fd() const { return fd_; }
  // Written once per POLLOUT only, PIPE_BUF at most.
  bool bounded() const { return bounded_; }
  // Bytes taken (0: none now); -1: it takes nothing ever again.
  ssize_t write(const char* p, size_t n) {
    ssize_t w;
    do {
      if (socket_)
        w = send(fd_, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
      else
        w = ::write(own_ ? own_.get() : fd_, p, bounded_ ? std::min<size_t>(n, PIPE_BUF) : n);
    } while (w < 0 && errno == EINTR);
    if (w >= 0) return w;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  }

 private:
  int fd_ = -1;
  UniqueFd own_;
  bool socket_ = false;
  bool bounded_ = false;
};

// One output direction: from the process's stream to a local end, through
// a buffer of one chunk. While the local end has not taken the chunk, no
// more is read (the process's stream pushes back).
struct Output {
  int from;
  Sink to;
  std::string pending;
  // Reads a chunk when the buffer is empty; -1 at EOF or error (EIO: a pty
  // whose slave closed), else the bytes read.
  ssize_t fill() {
    char buf[kChunk];
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (n <= 0) return -1;
    if (to.fd() >= 0) pending.assign(buf, static_cast<size_t>(n));  // none: dropped
    return n;
  }
  // Writes what it can of the buffer (`polled`: poll said the local end
  // takes some); the bytes taken.
  size_t flush(bool polled) {
    if (to.bounded() && !polled) return 0;
    size_t done = 0;
    while (!pending.empty()) {
      ssize_t n = to.write(pending.data() + done, pending.size() - done);
      if (n < 0) {  // closed: the rest is dropped
        pending.clear();
        return done;
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
      if (done == pending.size() || to.bounded()) break;
    }
    pending.erase(0, done);
    return done;
  }
  bool done() const { return from < 0 && pending.empty(); }
};

}  // namespace

Result<int> relay(const RelayStreams& s, RelayPeer& peer, const RelayWindow& window,
                  const RelayDrain& drain) {
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

  int in_from = s.in_from;
  Output out{s.out_from, Sink(s.out_to), {}}, err{s.err_from, Sink(s.err_to), {}};
  std::string pending;  // input not yet taken by the process's stream
  std::optional<int> status;
  Clock::time_point deadline, drain_end;
  const bool polled = window.changed && window.poll_ms >= 0;
  auto next_check = Clock::now() + std::chrono::milliseconds(window.poll_ms);
  while (true) {
    if (status && out.done() && err.done()) return *status;
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
    pollfd fds[8] = {
        {want_in ? in_from : -1, POLLIN, 0},
        {!pending.empty() ? s.in_to : -1, POLLOUT, 0},
        {out.pending.empty() ? out.from : -1, POLLIN, 0},
        {err.pending.empty() ? err.from : -1, POLLIN, 0},
        {status ? -1 : peer.fd(), POLLIN, 0},
        {sigfd.get(), POLLIN, 0},
        {out.pending.empty() ? -1 : out.to.fd(), POLLOUT, 0},
        {err.pending.empty() ? -1 : err.to.fd(), POLLOUT, 0},
    };
    int ready = poll(fds, 8, timeout);
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
    // Output that moved (read, when it has no local end; else taken by its
    // local end) keeps a drain going.
    auto moved = [&](bool any) {
      if (any && status) deadline = std::min(Clock::now() + drain.idle, drain_end);
    };
    auto pump = [&](Output& o, short read_ready, short write_ready) {
      if (read_ready) {
        ssize_t n = o.fill();
        if (n < 0) o.from = -1;
        moved(n > 0 && o.to.fd() < 0);
      }
      if (write_ready || (read_ready && !o.pending.empty())) moved(o.flush(write_ready) > 0);
    };
    pump(out, fds[2].revents, fds[6].revents);
    pump(err, fds[3].revents, fds[7].revents);
    if (fds[4].revents) {
      status = RUNVM_TRY(peer.on_readable());
      if (status) {
        deadline = Clock::now() + drain.idle;
        drain_end = Clock::now() + drain.max;
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
