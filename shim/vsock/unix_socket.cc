#include "shim/vsock/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace runvm::vsock {

Status set_nonblocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return errno_error("fcntl O_NONBLOCK");
  return {};
}

ssize_t write_nosignal(int fd, const void* buf, size_t n) {
  ssize_t r = ::send(fd, buf, n, MSG_NOSIGNAL);
  if (r < 0 && errno == ENOTSOCK) r = ::write(fd, buf, n);
  return r;
}

}  // namespace runvm::vsock
