// Unix stream sockets, the one place that fills a sockaddr_un: listen,
// connect, and fd passing (SCM_RIGHTS). Every socket returned is
// close-on-exec.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cstddef>
#include <string>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm {

// The longest path a unix socket can have (sun_path holds the NUL too).
inline constexpr size_t kUnixPathMax = sizeof(sockaddr_un::sun_path) - 1;

// The address of `path`; ENAMETOOLONG when it is empty or does not fit.
Result<sockaddr_un> unix_address(const std::string& path);

struct UnixListenOptions {
  int backlog = 16;
  bool nonblocking = false;
  // Unlink a leftover socket file first; otherwise bind fails with
  // EADDRINUSE when `path` exists (a taken port, for instance).
  bool replace_stale = false;
  // chmod the socket to this after bind (0: leave it to the umask).
  mode_t mode = 0;
};

// Binds and listens on `path`. On failure after bind the socket file is
// removed again.
Result<UniqueFd> listen_unix(const std::string& path, const UnixListenOptions& options = {});
// Connects to `path`. A nonblocking socket never blocks the connect: a unix
// stream connect completes at once or fails (EAGAIN: the backlog is full).
Result<UniqueFd> connect_unix(const std::string& path, bool nonblocking = false);

// Sends `fd` over a connected unix socket with `name` as the payload, as
// runc's utils.SendFd does (containerd and conmon read it that way).
Status send_fd(int sock, const std::string& name, int fd);
// Receives what send_fd sent on `sock` (a connected unix socket): the fd,
// close-on-exec. `name` gets the payload when given.
Result<UniqueFd> receive_fd(int sock, std::string* name = nullptr);

}  // namespace runvm
