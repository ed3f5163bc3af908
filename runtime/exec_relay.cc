#include "runtime/exec_relay.h"

#include <unistd.h>

#include "guest/protocol/frame.h"
#include "runtime/stdio_relay.h"
#include "runtime/terminal.h"
#include "shim/client/console.h"
#include "shim/client/control.h"

namespace runvm::cli {
namespace {

// How often a console's window size is checked (as the shim does).
constexpr int kConsolePollMs = 200;

// The exec's control connection: our signals and size go to the shim as
// requests for the process; its exit comes back.
class ExecPeer : public RelayPeer {
 public:
  explicit ExecPeer(int control) : control_(control) {}
  int fd() const override { return control_; }

  Result<std::optional<int>> on_readable() override {
    char buf[4096];
    ssize_t n = read(control_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return std::optional<int>();
    if (n <= 0) return make_error("the container's shim went away");
    RUNVM_CHECK(decoder_.feed(std::string_view(buf, static_cast<size_t>(n))));
    auto frame = RUNVM_TRY(decoder_.next());
    if (!frame) return std::optional<int>();
    return std::optional<int>(
        RUNVM_TRY(control::parse_exec_exit(*frame).context("shim")).wait_status);
  }

  void signal(const signalfd_siginfo& si) override {
    send(control::Kill{static_cast<int>(si.ssi_signo), false});
  }

  void resize(const winsize& ws) override { send(control::Resize{ws.ws_row, ws.ws_col}); }

 private:
  void send(const control::Request& r) {
    (void)proto::write_frame(control_, control::encode(r));  // its exit report tells the rest
  }

  int control_;
  proto::FrameDecoder decoder_{64 * 1024};
};

}  // namespace

Result<int> relay_exec(ExecStreams s) {
  RelayStreams r{STDIN_FILENO, s.in.get(), s.out.get(), STDOUT_FILENO, s.err.get(), STDERR_FILENO};
  RelayWindow window;
  if (Console* console = s.tty.console) {
    r.in_from = r.out_to = console->slave();
    window.changed = [console] { return console->size_change(); };
    window.poll_ms = kConsolePollMs;
  } else if (const HostTerminal* host = s.tty.host) {
    window.changed = [host] { return host->size(); };
  }
  ExecPeer peer(s.control.get());
  return relay(r, peer, window);
}

}  // namespace runvm::cli
