// Host-side socket helpers for the vsock backend (listen and connect are
// runvm_base's spec/base/unix_socket.h).
#pragma once

#include <cstddef>
#include <string>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"
#include "spec/base/unix_socket.h"

namespace runvm::vsock {

// How the backend listens: never blocking the event loop, replacing a stale
// socket file.
inline constexpr UnixListenOptions kListenOptions{
    .backlog = 128, .nonblocking = true, .replace_stale = true};

Status set_nonblocking(int fd);
// write(2) that never raises SIGPIPE (send(MSG_NOSIGNAL) on sockets).
ssize_t write_nosignal(int fd, const void* buf, size_t n);

}  // namespace runvm::vsock
