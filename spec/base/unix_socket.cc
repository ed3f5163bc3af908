#include "spec/base/unix_socket.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace runvm {

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() > kUnixPathMax)
    return make_error("unix socket path '" + path + "' empty or too long (at most " +
                          std::to_string(kUnixPathMax) + " bytes)",
                      ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

Result<UniqueFd> listen_unix(const std::string& path, const UnixListenOptions& options) {
  auto addr = RUNVM_TRY(unix_address(path));
  int type = SOCK_STREAM | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
  UniqueFd fd(::socket(AF_UNIX, type, 0));
  if (!fd) return errno_error("socket");
  if (options.replace_stale) ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return errno_error("bind " + path);
  // The file is ours from here: nothing is left behind on failure.
  auto fail = [&](const std::string& what) {
    Error e = errno_error(what);
    ::unlink(path.c_str());
    return e;
  };
  if (options.mode != 0 && ::chmod(path.c_str(), options.mode) < 0) return fail("chmod " + path);
  if (::listen(fd.get(), options.backlog) < 0) return fail("listen " + path);
  return fd;
}

Result<UniqueFd> connect_unix(const std::string& path, bool nonblocking) {
  auto addr = RUNVM_TRY(unix_address(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  if (!fd) return errno_error("socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return errno_error("connect " + path);
  return fd;
}

namespace {

// Room for the one fd that send_fd/receive_fd pass.
struct OneFdControl {
  alignas(cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
};

// A message of one payload buffer and room for one fd.
msghdr one_fd_message(iovec& iov, OneFdControl& control) {
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  return msg;
}

}  // namespace

Status send_fd(int sock, const std::string& name, int fd) {
  iovec iov{const_cast<char*>(name.data()), name.size()};
  OneFdControl control;
  msghdr msg = one_fd_message(iov, control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  while (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return errno_error("send fd");
  }
  return {};
}

Result<UniqueFd> receive_fd(int sock, std::string* name) {
  char payload[256];
  iovec iov{payload, sizeof payload};
  OneFdControl control;
  msghdr msg = one_fd_message(iov, control);
  ssize_t n;
  while ((n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) return errno_error("receive fd");
  }
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
      c->cmsg_len != CMSG_LEN(sizeof(int))) {
    return make_error("receive fd: no fd in the message", EPROTO);
  }
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  UniqueFd owned(fd);  // closed again if the message was cut short
  if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
    return make_error("receive fd: message truncated", EPROTO);
  if (name) name->assign(payload, static_cast<size_t>(n));
  return owned;
}

}  // namespace runvm
