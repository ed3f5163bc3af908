// A foreground `runvm run` of a container with `terminal: true` and no
// --console-socket, as runc does it: the shim sends the pty master to a
// console socket of our own, and we relay it to the caller's terminal.
#pragma once

#include <sys/types.h>

#include <string>

#include "runtime/terminal.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {

// The console socket, in a private directory removed with it.
class ConsoleReceiver {
 public:
  static Result<ConsoleReceiver> listen();
  ConsoleReceiver(ConsoleReceiver&& o) noexcept;
  ConsoleReceiver& operator=(ConsoleReceiver&&) = delete;
  ~ConsoleReceiver();

  const std::string& path() const { return path_; }
  // The master; the shim sent it before it reported the container created.
  Result<UniqueFd> take_master();

 private:
  ConsoleReceiver() = default;
  std::string dir_, path_;
  UniqueFd listener_;
};

// Relays `master` to our stdio with `host`'s size (raw already) until the
// shim, our child, exits; returns its raw wait status.
Result<int> relay_console(pid_t shim, UniqueFd master, const HostTerminal& host);

}  // namespace runvm::cli
