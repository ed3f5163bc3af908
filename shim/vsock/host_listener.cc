#include "shim/vsock/host_listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "shim/vsock/connect_line.h"
#include "shim/vsock/unix_socket.h"

namespace runvm::vsock {

Result<std::unique_ptr<HostListener>> HostListener::create(EventLoop& loop, std::string path,
                                                           Clock::duration line_timeout,
                                                           OnConnect on_connect) {
  std::unique_ptr<HostListener> l(
      new HostListener(loop, std::move(path), line_timeout, std::move(on_connect)));
  l->listen_fd_ = RUNVM_TRY(listen_unix(l->path_, kListenOptions));
  HostListener* self = l.get();
  RUNVM_CHECK(loop.add(l->listen_fd_.get(), EPOLLIN, [self](uint32_t) { self->on_accept(); }));
  return l;
}

HostListener::~HostListener() {
  for (auto& [fd, p] : pending_) loop_.remove(fd);
  if (listen_fd_) {
    loop_.remove(listen_fd_.get());  // harmless when paused
    ::unlink(path_.c_str());
  }
}

void HostListener::on_accept() {
  for (;;) {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      // Out of fds or memory: the pending connection would wake a
      // level-triggered loop forever, so stop listening until expire() runs.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        loop_.remove(listen_fd_.get());
        paused_ = true;
      }
      return;
    }
    if (pending_.size() >= kMaxPendingClients) continue;  // shed load: closes the client
    int raw = fd.get();
    if (!loop_.add(raw, EPOLLIN, [this, raw](uint32_t) { on_client(raw); }).ok()) continue;
    pending_[raw] = Pending{std::move(fd), {}, Clock::now() + line_timeout_};
  }
}

void HostListener::on_client(int fd) {
  auto it = pending_.find(fd);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  char c;
  for (;;) {
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) return drop(fd);
    p.line.push_back(c);
    if (c == '\n') break;
    if (p.line.size() >= kMaxConnectLine) return drop(fd);
  }
  auto port = parse_connect_line(p.line);
  if (!port) return drop(fd);
  UniqueFd client = std::move(p.fd);
  loop_.remove(fd);
  pending_.erase(it);
  on_connect_(std::move(client), *port);
}

void HostListener::drop(int fd) {
  loop_.remove(fd);
  pending_.erase(fd);
}

void HostListener::expire(Clock::time_point now) {
  if (paused_ && loop_.add(listen_fd_.get(), EPOLLIN, [this](uint32_t) { on_accept(); }).ok())
    paused_ = false;
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    if (it->second.deadline <= now) drop(it->first);
    it = next;
  }
}

}  // namespace runvm::vsock
