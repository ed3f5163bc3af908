#include "runtime/run_foreground.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "runtime/stdio_relay.h"
#include "shim/client/console.h"
#include "spec/base/unix_socket.h"

namespace runvm::cli {
namespace {

// The shim sent the master during create; it is queued by now.
constexpr int kMasterWaitMs = 5000;

// The shim is the container's pid: signals for the container go to it,
// and its exit is the container's.
class ShimPeer : public RelayPeer {
 public:
  ShimPeer(pid_t shim, UniqueFd pidfd, int master)
      : shim_(shim), pidfd_(std::move(pidfd)), master_(master) {}
  int fd() const override { return pidfd_.get(); }

  Result<std::optional<int>> on_readable() override {
    int status = 0;
    pid_t r = waitpid(shim_, &status, WNOHANG);
    if (r < 0 && errno != EINTR) return errno_error("wait for shim");
    if (r != shim_) return std::optional<int>();
    return std::optional<int>(status);
  }

  void signal(const signalfd_siginfo& si) override {
    // The terminal's own signals reached the shim directly: it shares our
    // process group.
    if (si.ssi_code != SI_KERNEL) kill(shim_, static_cast<int>(si.ssi_signo));
  }

  // The shim notices the master's new size and passes it to the guest.
  void resize(const winsize& ws) override { ioctl(master_, TIOCSWINSZ, &ws); }

 private:
  pid_t shim_;
  UniqueFd pidfd_;
  int master_;
};

std::string temp_root() {
  const char* t = getenv("TMPDIR");
  // The socket's path must fit sun_path.
  if (t && t[0] == '/' && strlen(t) < 64) return t;
  return "/tmp";
}

}  // namespace

Result<ConsoleReceiver> ConsoleReceiver::listen() {
  auto dir = RUNVM_TRY(TempDir::create(temp_root(), "runvm-console"));
  std::string path = dir / "console.sock";
  auto listener = RUNVM_TRY(listen_unix(path, {.backlog = 1}));
  return ConsoleReceiver(std::move(dir), std::move(path), std::move(listener));
}

Result<UniqueFd> ConsoleReceiver::take_master() {
  pollfd p{listener_.get(), POLLIN, 0};
  int n;
  while ((n = poll(&p, 1, kMasterWaitMs)) < 0 && errno == EINTR) {
  }
  if (n <= 0) return make_error("the shim sent no console", ETIMEDOUT);
  UniqueFd conn(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return errno_error("accept console");
  return receive_fd(conn.get());
}

Result<int> wait_for_shim(pid_t shim, UniqueFd master, const HostTerminal* host) {
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, shim, 0)));
  if (!pidfd) return errno_error("pidfd_open");
  ShimPeer peer(shim, std::move(pidfd), master.get());
  RelayStreams s;
  RelayWindow window;
  if (master) s = {STDIN_FILENO, master.get(), master.get(), STDOUT_FILENO};
  if (host) window.changed = [host] { return host->size(); };
  return relay(s, peer, window);
}

}  // namespace runvm::cli
