#include "guest/agent/vsock.h"

#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <time.h>

#include <string>
#include <thread>

namespace runvm::agent {

Result<UniqueFd> vsock_connect(uint32_t cid, uint32_t port) {
  UniqueFd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error("socket(AF_VSOCK)");
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = cid;
  addr.svm_port = port;
  // No EINTR retry: a re-issued connect() would report EALREADY; callers
  // that need persistence use vsock_connect_retry with a fresh socket.
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return errno_error("connect vsock " + std::to_string(cid) + ":" + std::to_string(port));
  return fd;
}

Result<UniqueFd> vsock_connect_start(uint32_t cid, uint32_t port) {
  UniqueFd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errno_error("socket(AF_VSOCK)");
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = cid;
  addr.svm_port = port;
  // The kernel times a pending connect out itself (2 s), with an error
  // await_connected reads.
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS)
    return errno_error("connect vsock " + std::to_string(cid) + ":" + std::to_string(port));
  return fd;
}

Result<UniqueFd> vsock_connect_retry(uint32_t cid, uint32_t port, std::chrono::milliseconds timeout,
                                     std::chrono::milliseconds interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int attempt = 1;; ++attempt) {
    auto fd = vsock_connect(cid, port);
    if (fd.ok()) return fd;
    if (std::chrono::steady_clock::now() >= deadline)
      return std::move(fd).error().wrap("giving up after " + std::to_string(attempt) + " attempts");
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace runvm::agent
