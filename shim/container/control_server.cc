#include "shim/container/control_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "spec/base/log.h"
#include "spec/base/unix_socket.h"

namespace runvm {

Result<std::unique_ptr<ControlServer>> ControlServer::listen(
    EventLoop& loop, const std::string& path, OnRequest on_request,
    std::chrono::milliseconds request_timeout) {
  std::unique_ptr<ControlServer> s(
      new ControlServer(loop, path, std::move(on_request), request_timeout));
  // Non-blocking: accept() in a loop until EAGAIN must never block.
  s->listener_ = RUNVM_TRY(listen_unix(path, {.backlog = static_cast<int>(2 * kMaxClients),
                                              .nonblocking = true,
                                              .replace_stale = true,
                                              .mode = 0600}));
  ControlServer* self = s.get();
  RUNVM_CHECK(loop.add(s->listener_.get(), EPOLLIN, [self](uint32_t) { self->on_accept(); }));
  return s;
}

ControlServer::~ControlServer() {
  for (auto& [fd, c] : clients_) loop_.remove(fd);
  clients_.clear();
  if (listener_) {
    loop_.remove(listener_.get());
    unlink(path_.c_str());
  }
}

void ControlServer::on_accept() {
  for (;;) {
    UniqueFd conn(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!conn) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        log::debug(std::string("control: accept: ") + strerror(errno));
      return;
    }
    if (clients_.size() >= kMaxClients) {
      log::debug("control: too many clients sending; one refused");
      continue;  // closed: its request, if any, is lost
    }
    int fd = conn.get();
    auto client = std::make_unique<Client>(Client{std::move(conn), proto::FrameDecoder(), nullptr});
    client->deadline = std::make_unique<Timer>(loop_, [this, fd] {
      log::debug("control: a client sent no request within the time allowed");
      loop_.remove(fd);
      clients_.erase(fd);
    });
    client->deadline->arm(request_timeout_);
    if (auto added = loop_.add(fd, EPOLLIN, [this, fd](uint32_t) { on_readable(fd); });
        !added.ok()) {
      log::debug("control: " + added.error().message);
      continue;
    }
    clients_.emplace(fd, std::move(client));
  }
}

UniqueFd ControlServer::take(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return {};
  loop_.remove(fd);
  UniqueFd conn = std::move(it->second->conn);
  clients_.erase(it);
  return conn;
}

void ControlServer::on_readable(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  char buf[16 * 1024];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) {  // hung up (or failed) before a whole request: nothing to answer
    take(fd);
    return;
  }
  Status fed = c.decoder.feed(std::string_view(buf, static_cast<size_t>(n)));
  Result<std::optional<std::string>> frame = std::optional<std::string>();
  if (fed.ok()) frame = c.decoder.next();
  if (fed.ok() && frame.ok() && !*frame) return;  // more to come
  // One request per connection: whatever follows it is not read here (an
  // exec's follow-ups come after its reply, on the exec's session).
  UniqueFd conn = take(fd);
  Result<control::Addressed> req = !fed.ok() ? Result<control::Addressed>(std::move(fed).error())
                                   : !frame.ok()
                                       ? Result<control::Addressed>(std::move(frame).error())
                                       : control::parse_request(**frame);
  if (!req.ok()) {
    (void)proto::write_frame(conn.get(), control::encode(control::Reply{std::move(req).error()}));
    return;
  }
  on_request_(std::move(*req), std::move(conn));
}

}  // namespace runvm
