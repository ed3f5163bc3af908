#include "shim/client/console.h"

#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

namespace runvm {

Result<Console> Console::open_and_send(const std::string& socket_path,
                                       std::optional<winsize> initial) {
  UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return errno_error("open /dev/ptmx");
  if (grantpt(master.get()) < 0 || unlockpt(master.get()) < 0) return errno_error("unlockpt");
  char name[128];
  if (ptsname_r(master.get(), name, sizeof name) != 0) return errno_error("ptsname");
  Console c;
  c.slave_.reset(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!c.slave_) return errno_error(std::string("open ") + name);
  termios t;
  if (tcgetattr(c.slave_.get(), &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(c.slave_.get(), TCSANOW, &t);
  }
  if (initial) ioctl(c.slave_.get(), TIOCSWINSZ, &*initial);
  ioctl(c.slave_.get(), TIOCGWINSZ, &c.last_);

  auto sock = connect_unix(socket_path);
  if (!sock.ok()) {
    if (sock.error().code == ENAMETOOLONG) return std::move(sock).error().wrap("console socket");
    return errno_error("connect to console socket " + socket_path, sock.error().code);
  }
  RUNVM_CHECK(send_fd(sock->get(), "/dev/ptmx", master.get()).context("console"));
  return c;
}

std::optional<winsize> Console::size_change() {
  winsize now{};
  if (ioctl(slave_.get(), TIOCGWINSZ, &now) < 0) return std::nullopt;
  if (now.ws_row == last_.ws_row && now.ws_col == last_.ws_col) return std::nullopt;
  last_ = now;
  return now;
}

}  // namespace runvm
