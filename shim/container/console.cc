#include "shim/container/console.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

namespace runvm {

Status send_fd(int sock, const std::string& name, int fd) {
  iovec iov{const_cast<char*>(name.data()), name.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return errno_error("send console fd");
  }
  return {};
}

Result<UniqueFd> receive_fd(int sock, std::string* name) {
  char payload[256];
  iovec iov{payload, sizeof payload};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) return errno_error("receive console fd");
  }
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
      c->cmsg_len != CMSG_LEN(sizeof(int))) {
    return make_error("receive console fd: no fd in the message", EPROTO);
  }
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  UniqueFd owned(fd);  // closed again if the message was cut short
  if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
    return make_error("receive console fd: message truncated", EPROTO);
  if (name) name->assign(payload, static_cast<size_t>(n));
  return owned;
}

Result<Console> Console::open_and_send(const std::string& socket_path,
                                       std::optional<winsize> initial) {
  UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return errno_error("open /dev/ptmx");
  if (grantpt(master.get()) < 0 || unlockpt(master.get()) < 0) return errno_error("unlockpt");
  char name[128];
  if (ptsname_r(master.get(), name, sizeof name) != 0) return errno_error("ptsname");
  Console c;
  c.slave_.reset(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!c.slave_) return errno_error(std::string("open ") + name);
  termios t;
  if (tcgetattr(c.slave_.get(), &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(c.slave_.get(), TCSANOW, &t);
  }
  if (initial) ioctl(c.slave_.get(), TIOCSWINSZ, &*initial);
  ioctl(c.slave_.get(), TIOCGWINSZ, &c.last_);

  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return errno_error("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) return make_error("console socket path too long");
  memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return errno_error("connect to console socket " + socket_path);
  RUNVM_CHECK(send_fd(sock.get(), "/dev/ptmx", master.get()));
  return c;
}

std::optional<winsize> Console::size_change() {
  winsize now{};
  if (ioctl(slave_.get(), TIOCGWINSZ, &now) < 0) return std::nullopt;
  if (now.ws_row == last_.ws_row && now.ws_col == last_.ws_col) return std::nullopt;
  last_ = now;
  return now;
}

}  // namespace runvm
