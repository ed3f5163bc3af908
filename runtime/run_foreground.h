// A foreground `runvm run` until its container exits: the shim's exit is
// the container's and our signals are passed on. With `terminal: true` and
// no --console-socket, as runc does it, the shim sends the pty master to a
// console socket of our own and we relay it to the caller's terminal.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include "runtime/terminal.h"
#include "spec/base/result.h"
#include "spec/base/temp_dir.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {

// The console socket, in a private directory removed with it.
class ConsoleReceiver {
 public:
  static Result<ConsoleReceiver> listen();

  const std::string& path() const { return path_; }
  // The master; the shim sent it before it reported the container created.
  Result<UniqueFd> take_master();

 private:
  ConsoleReceiver(TempDir dir, std::string path, UniqueFd listener)
      : dir_(std::move(dir)), path_(std::move(path)), listener_(std::move(listener)) {}
  TempDir dir_;  // declared first: removed last, with the socket in it
  std::string path_;
  UniqueFd listener_;
};

// A foreground run's wait for the shim, our child, passing our signals on;
// with a terminal, relays `master` to our stdio with `host`'s size (raw
// already). Returns the shim's raw wait status.
Result<int> wait_for_shim(pid_t shim, UniqueFd master = {}, const HostTerminal* host = nullptr);

}  // namespace runvm::cli
