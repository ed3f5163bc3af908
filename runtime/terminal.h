// The caller's terminal, for a foreground `runvm run` or `runvm exec -t`
// without --console-socket: like runc, we relay the process's pty to our own
// stdio, switch our terminal to raw mode (the guest's pty does the line
// discipline, echo included) and pass its size on.
#pragma once

#include <sys/ioctl.h>
#include <termios.h>

#include <optional>
#include <vector>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {

class HostTerminal {
 public:
  // runc's choice: the first of stderr, stdout and stdin that is a
  // terminal, else the controlling terminal.
  static Result<HostTerminal> find();
  // The same over `fds`, then `fallback_path` (for tests).
  static Result<HostTerminal> find_among(const std::vector<int>& fds, const char* fallback_path);

  HostTerminal(HostTerminal&& o) noexcept;
  HostTerminal& operator=(HostTerminal&& o) noexcept;
  // Restores the mode make_raw() replaced.
  ~HostTerminal();

  int fd() const { return fd_; }
  // cfmakeraw, as runc's SetRaw: keys reach the process unprocessed.
  Status make_raw();
  std::optional<winsize> size() const;

 private:
  HostTerminal() = default;
  UniqueFd owned_;  // when we opened the fallback path
  int fd_ = -1;
  std::optional<termios> saved_;
};

}  // namespace runvm::cli
