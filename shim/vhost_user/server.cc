#include "shim/vhost_user/server.h"

#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>

#include "spec/base/unix_socket.h"

namespace runvm::vhost_user {

namespace {
// A reply is a few hundred bytes; if QEMU does not take it in this long it is wedged.
constexpr int kWriteTimeoutMs = 5000;
}  // namespace

Result<std::unique_ptr<VhostUserServer>> VhostUserServer::listen(EventLoop& loop,
                                                                 const std::string& socket_path,
                                                                 VirtioDevice& device) {
  // Only our user (QEMU runs as us) may connect.
  UniqueFd fd =
      RUNVM_TRY(listen_unix(socket_path, {.backlog = 1, .nonblocking = true, .mode = 0600})
                    .context("vhost-user"));
  // From here the server owns the path and unlinks it on any later failure.
  std::unique_ptr<VhostUserServer> s(new VhostUserServer(loop, socket_path, std::move(fd), device));
  RUNVM_CHECK(loop.add(s->listen_fd_.get(), EPOLLIN, [p = s.get()](uint32_t) { p->on_accept(); }));
  return s;
}

VhostUserServer::VhostUserServer(EventLoop& loop, std::string path, UniqueFd listen_fd,
                                 VirtioDevice& device)
    : loop_(loop),
      path_(std::move(path)),
      listen_fd_(std::move(listen_fd)),
      backend_(device, loop) {}

VhostUserServer::~VhostUserServer() {
  if (conn_) loop_.remove(conn_.get());
  backend_.disconnect();
  loop_.remove(listen_fd_.get());
  unlink(path_.c_str());
}

void VhostUserServer::report(const Error& e) {
  if (on_error_) {
    on_error_(e);
  } else {
    std::fprintf(stderr, "runvm-shim: vhost-user %s: %s\n", path_.c_str(), e.message.c_str());
  }
}

void VhostUserServer::on_accept() {
  UniqueFd c(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!c) {
    if (errno != EAGAIN && errno != EINTR) report(errno_error("accept"));
    return;
  }
  if (auto s = loop_.add(c.get(), EPOLLIN, [this](uint32_t) { on_readable(); }); !s.ok()) {
    report(s.error());
    return;
  }
  // One front-end at a time: later ones wait in the backlog until this one leaves.
  loop_.remove(listen_fd_.get());
  conn_ = std::move(c);
  reset_framing();
}

void VhostUserServer::reset_framing() {
  buf_.assign(kHeaderSize, 0);
  want_ = kHeaderSize;
  got_ = 0;
  have_header_ = false;
  fds_.clear();
}

void VhostUserServer::on_readable() {
  auto r = read_some();
  if (!r.ok()) {
    drop_connection(&r.error());  // may destroy *this: nothing after it
  } else if (!*r) {
    drop_connection(nullptr);
  }
}

Result<bool> VhostUserServer::read_some() {
  while (true) {
    // Read exactly what the current stage lacks, so fds sent with the next
    // message are never received with this one.
    size_t got = got_;
    iovec iov{buf_.data() + got, want_ - got};
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * kMaxFds)];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctrl;
    mh.msg_controllen = sizeof ctrl;
    ssize_t n = recvmsg(conn_.get(), &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return true;
      return errno_error("vhost-user recvmsg");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds_.emplace_back(fd);
      }
    }
    if (mh.msg_flags & MSG_CTRUNC)
      return make_error("vhost-user message carried too many fds", EPROTO);
    if (fds_.size() > kMaxFds) return make_error("vhost-user message carried too many fds", EPROTO);
    if (n == 0) return false;  // front-end closed
    got_ += static_cast<size_t>(n);
    if (got_ < want_) continue;
    if (!have_header_) {
      header_ = RUNVM_TRY(parse_header(buf_));
      have_header_ = true;
      want_ = kHeaderSize + header_.size;
      buf_.resize(want_);
      if (got_ < want_) continue;
    }
    RUNVM_CHECK(dispatch());
    reset_framing();
  }
}

Status VhostUserServer::dispatch() {
  auto payload = std::span<const uint8_t>(buf_).subspan(kHeaderSize);
  auto msg = parse_message(header_, payload, std::move(fds_));
  fds_.clear();
  Result<std::optional<Reply>> r =
      msg.ok() ? backend_.handle(std::move(*msg)) : Result<std::optional<Reply>>(msg.error());
  std::optional<Reply> reply;
  if (r.ok()) {
    reply = std::move(*r);
  } else {
    report(r.error());
    reply = failure_reply(header_, r.error());
  }
  if (reply) RUNVM_CHECK(write_reply(*reply));
  return {};
}

Status VhostUserServer::write_reply(const Reply& reply) {
  auto bytes = serialize(reply);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n =
        send(conn_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return errno_error("vhost-user send");
    pollfd p{conn_.get(), POLLOUT, 0};
    int r = poll(&p, 1, kWriteTimeoutMs);
    if (r < 0 && errno != EINTR) return errno_error("vhost-user poll");
    if (r == 0) return make_error("vhost-user front-end does not read replies", ETIMEDOUT);
  }
  return {};
}

void VhostUserServer::drop_connection(const Error* why) {
  loop_.remove(conn_.get());
  conn_.reset();
  reset_framing();
  backend_.disconnect();
  if (why) report(*why);
  if (auto s = loop_.add(listen_fd_.get(), EPOLLIN, [this](uint32_t) { on_accept(); }); !s.ok())
    report(s.error());
  auto cb = on_disconnect_;  // the callback may destroy *this
  if (cb) cb();
}

}  // namespace runvm::vhost_user
