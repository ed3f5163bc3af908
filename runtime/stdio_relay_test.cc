#include "runtime/stdio_relay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "spec/base/unique_fd.h"

namespace runvm::cli {
namespace {

struct Pipe {
  Pipe() {
    int p[2];
    EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
    rd.reset(p[0]);
    wr.reset(p[1]);
  }
  UniqueFd rd, wr;
};

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

// Stands for a process that reads its stdin (the far end of `stdin_peer`)
// to EOF, then exits with 7; `ready` wakes the relay.
class FakeProcess : public RelayPeer {
 public:
  FakeProcess() : ready_(eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  int fd() const override { return ready_.get(); }
  Result<std::optional<int>> on_readable() override {
    ++polls;
    if (on_poll) on_poll(*this);
    if (stdin_peer >= 0) {
      char buf[4096];
      ssize_t n;
      while ((n = recv(stdin_peer, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        input.append(buf, static_cast<size_t>(n));
      if (n == 0) stdin_eof = true;
    }
    if (done()) return std::optional<int>(7 << 8);
    return std::optional<int>();
  }
  void signal(const signalfd_siginfo& si) override {
    signals.push_back(static_cast<int>(si.ssi_signo));
  }
  void resize(const winsize& ws) override {
    sizes.push_back(ws);
    wake();
  }
  void wake() { eventfd_write(ready_.get(), 1); }

  UniqueFd ready_;
  int stdin_peer = -1;
  int polls = 0;
  std::string input;
  bool stdin_eof = false;
  std::vector<int> signals;
  std::vector<winsize> sizes;
  std::function<void(FakeProcess&)> on_poll;
  std::function<bool()> done;
};

TEST(Relay, CopiesEveryStreamAndDeliversOutputBeforeTheStatus) {
  Pipe in, out, err, our_out, our_err;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd in_to(sv[0]), in_far(sv[1]);
  std::string input(100000, 'i');
  std::thread writer([&] {
    (void)write(in.wr.get(), input.data(), input.size());
    in.wr.reset();
  });
  ASSERT_EQ(write(out.wr.get(), "out", 3), 3);
  ASSERT_EQ(write(err.wr.get(), "err", 3), 3);
  out.wr.reset();
  err.wr.reset();

  FakeProcess p;
  p.stdin_peer = in_far.get();
  p.done = [&] { return p.stdin_eof; };
  RelayStreams s{in.rd.get(),      in_to.get(),  out.rd.get(),
                 our_out.wr.get(), err.rd.get(), our_err.wr.get()};
  auto status = relay(s, p);
  writer.join();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(*status, 7 << 8);
  EXPECT_EQ(p.input.size(), input.size());  // then EOF, passed on as shutdown
  our_out.wr.reset();
  our_err.wr.reset();
  EXPECT_EQ(read_all(our_out.rd.get()), "out");
  EXPECT_EQ(read_all(our_err.rd.get()), "err");
}

TEST(Relay, PassesSignalsAndWindowSizeOn) {
  FakeProcess p;
  int asked = 0;
  RelayWindow window;
  window.changed = [&]() -> std::optional<winsize> {
    if (asked++ == 0) return std::nullopt;  // at start: unchanged
    return winsize{10, 20, 0, 0};
  };
  p.on_poll = [](FakeProcess& self) {
    if (self.polls == 1) {
      raise(SIGUSR1);  // blocked by now: reaches the relay's signalfd
      raise(SIGWINCH);
    }
    self.wake();
  };
  p.done = [&] { return !p.signals.empty() && !p.sizes.empty(); };
  auto status = relay({}, p, window);
  ASSERT_TRUE(status.ok()) << status.error().message;
  ASSERT_EQ(p.signals, std::vector<int>{SIGUSR1});
  ASSERT_EQ(p.sizes.size(), 1u);
  EXPECT_EQ(p.sizes[0].ws_row, 10);
  EXPECT_EQ(p.sizes[0].ws_col, 20);
}

TEST(Relay, PollsAConsoleForSizeChanges) {
  FakeProcess p;
  eventfd_t drained;
  eventfd_read(p.fd(), &drained);  // quiet until resized
  int asked = 0;
  RelayWindow window;
  window.poll_ms = 10;
  window.changed = [&]() -> std::optional<winsize> {
    if (++asked < 4) return std::nullopt;
    return winsize{5, 6, 0, 0};
  };
  p.done = [&] { return !p.sizes.empty(); };
  auto status = relay({}, p, window);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_GE(asked, 4);
  ASSERT_EQ(p.sizes.size(), 1u);
  EXPECT_EQ(p.sizes[0].ws_col, 6);
}

// A local reader that never reads (its pipe full) holds the relay no
// longer than its drain after the process ended: writes to the local end
// do not block, and that end, which may be shared, stays blocking. Run in
// a child, so that a relay stuck in write fails the test instead of
// hanging it.
TEST(Relay, AReaderThatNeverReadsHoldsItNoLongerThanTheDrain) {
  Pipe out, our_out;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::thread writer([&] {
      std::string chunk(64 * 1024, 'o');
      while (write(out.wr.get(), chunk.data(), chunk.size()) > 0) {
      }
    });
    writer.detach();
    FakeProcess p;
    p.done = [] { return true; };
    RelayStreams s;
    s.out_from = out.rd.get();
    s.out_to = our_out.wr.get();
    auto status = relay(s, p, {}, {std::chrono::milliseconds(200), std::chrono::seconds(2)});
    bool blocking = (fcntl(our_out.wr.get(), F_GETFL) & O_NONBLOCK) == 0;
    _exit(status.ok() && *status == 7 << 8 && blocking ? 0 : 1);
  }
  out.wr.reset();
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, child, 0)));
  ASSERT_TRUE(pidfd);
  pollfd pfd{pidfd.get(), POLLIN, 0};
  bool ended = poll(&pfd, 1, 20000) == 1;
  if (!ended) kill(child, SIGKILL);
  int st = -1;
  ASSERT_EQ(waitpid(child, &st, 0), child);
  ASSERT_TRUE(ended) << "the relay was still writing to a pipe nobody reads";
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
}

TEST(Relay, PeerErrorEndsTheRelay) {
  struct Failing : FakeProcess {
    Result<std::optional<int>> on_readable() override { return make_error("shim went away"); }
  } f;
  auto status = relay({}, f);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message, "shim went away");
}

}  // namespace
}  // namespace runvm::cli
