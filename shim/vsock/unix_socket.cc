#include "shim/vsock/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace runvm::vsock {

namespace {

Result<sockaddr_un> make_addr(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return make_error("unix socket path '" + path + "' empty or too long", ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

}  // namespace

Result<UniqueFd> listen_unix(const std::string& path) {
  auto addr = RUNVM_TRY(make_addr(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error("socket");
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return errno_error("bind " + path);
  if (::listen(fd.get(), 128) < 0) return errno_error("listen " + path);
  return fd;
}

Result<UniqueFd> connect_unix(const std::string& path) {
  auto addr = RUNVM_TRY(make_addr(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error("socket");
  // Unix stream connects complete at once or fail (EAGAIN: backlog full).
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return errno_error("connect " + path);
  return fd;
}

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
