#include "runtime/terminal.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace runvm::cli {

Result<HostTerminal> HostTerminal::find() {
  return find_among({STDERR_FILENO, STDOUT_FILENO, STDIN_FILENO}, "/dev/tty");
}

Result<HostTerminal> HostTerminal::find_among(const std::vector<int>& fds,
                                              const char* fallback_path) {
  HostTerminal t;
  for (int fd : fds) {
    if (isatty(fd)) {
      t.fd_ = fd;
      return t;
    }
  }
  t.owned_.reset(open(fallback_path, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!t.owned_) return errno_error(std::string("open ") + fallback_path);
  if (!isatty(t.owned_.get())) return errno_error(fallback_path);
  t.fd_ = t.owned_.get();
  return t;
}

HostTerminal::HostTerminal(HostTerminal&& o) noexcept
    : owned_(std::move(o.owned_)), fd_(o.fd_), saved_(o.saved_) {
  o.fd_ = -1;
  o.saved_.reset();
}

HostTerminal& HostTerminal::operator=(HostTerminal&& o) noexcept {
  if (this == &o) return *this;
  if (saved_) tcsetattr(fd_, TCSANOW, &*saved_);
  owned_ = std::move(o.owned_);
  fd_ = std::exchange(o.fd_, -1);
  saved_ = std::exchange(o.saved_, std::nullopt);
  return *this;
}

HostTerminal::~HostTerminal() {
  if (saved_) tcsetattr(fd_, TCSANOW, &*saved_);
}

Status HostTerminal::make_raw() {
  termios t;
  if (tcgetattr(fd_, &t) < 0) return errno_error("tcgetattr");
  if (!saved_) saved_ = t;
  cfmakeraw(&t);
  // Output processing goes off too: the guest's pty already made "\n" "\r\n".
  if (tcsetattr(fd_, TCSANOW, &t) < 0) return errno_error("tcsetattr");
  return {};
}

std::optional<winsize> HostTerminal::size() const {
  winsize ws{};
  if (ioctl(fd_, TIOCGWINSZ, &ws) < 0) return std::nullopt;
  return ws;
}

}  // namespace runvm::cli
