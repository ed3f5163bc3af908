// Host-side Unix stream socket helpers for the vsock backend. All returned
// sockets are nonblocking and close-on-exec.
#pragma once

#include <cstddef>
#include <string>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::vsock {

// Binds and listens on `path` (replacing a stale socket file).
Result<UniqueFd> listen_unix(const std::string& path);
// Connects to `path` without ever blocking: a full backlog is an error.
Result<UniqueFd> connect_unix(const std::string& path);
Status set_nonblocking(int fd);
// write(2) that never raises SIGPIPE (send(MSG_NOSIGNAL) on sockets).
ssize_t write_nosignal(int fd, const void* buf, size_t n);

}  // namespace runvm::vsock
