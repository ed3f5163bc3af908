// The host end of a container's terminal (`terminal: true`): a pty pair
// whose master goes to the caller's --console-socket, as runc sends it, and
// whose slave the shim relays to and from the guest's pty.
#pragma once

#include <sys/ioctl.h>

#include <optional>
#include <string>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"
#include "spec/base/unix_socket.h"  // send_fd/receive_fd: the master travels as runc sends it

namespace runvm {

class Console {
 public:
  // Opens the pair (slave in raw mode: the guest's pty does the line
  // discipline) and sends the master over the unix socket at `socket_path`.
  static Result<Console> open_and_send(const std::string& socket_path,
                                       std::optional<winsize> initial);

  int slave() const { return slave_.get(); }
  // The window size the console's owner set, when it changed since the last call.
  std::optional<winsize> size_change();

 private:
  UniqueFd slave_;
  winsize last_{};
};

}  // namespace runvm
