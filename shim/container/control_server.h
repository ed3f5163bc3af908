// The listening end of the shim's control socket (shim/client/CONTROL.md)
// on the shim's event loop. Each accepted connection is read without
// blocking until its request frame is complete, so a client that connects
// and sends nothing, or sends slowly, holds up nobody; such clients are
// bounded in number (kMaxClients: more are closed at once) and in time
// (kRequestTimeout to send the request). A parsed request is handed over
// with its connection, which its handler answers whenever it can; a request
// that does not parse is answered here with the error.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "guest/protocol/frame.h"
#include "shim/client/control.h"
#include "spec/base/event_loop.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class ControlServer {
 public:
  static constexpr size_t kMaxClients = 32;
  static constexpr std::chrono::milliseconds kRequestTimeout{10000};
  // `conn` is non-blocking.
  using OnRequest = std::function<void(control::Addressed request, UniqueFd conn)>;

  // Listens at `path` (mode 0600, replacing a stale socket).
  static Result<std::unique_ptr<ControlServer>> listen(
      EventLoop& loop, const std::string& path, OnRequest on_request,
      std::chrono::milliseconds request_timeout = kRequestTimeout);
  ~ControlServer();  // closes the clients still sending and unlinks the socket
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Connections whose request is not complete yet.
  size_t clients() const { return clients_.size(); }

 private:
  struct Client {
    UniqueFd conn;
    proto::FrameDecoder decoder;
    std::unique_ptr<Timer> deadline;
  };
  ControlServer(EventLoop& loop, std::string path, OnRequest on_request,
                std::chrono::milliseconds request_timeout)
      : loop_(loop),
        path_(std::move(path)),
        on_request_(std::move(on_request)),
        request_timeout_(request_timeout) {}
  void on_accept();
  void on_readable(int fd);
  // Forgets the client `fd` and returns its connection.
  UniqueFd take(int fd);

  EventLoop& loop_;
  std::string path_;
  OnRequest on_request_;
  std::chrono::milliseconds request_timeout_;
  UniqueFd listener_;
  std::map<int, std::unique_ptr<Client>> clients_;  // by fd
};

}  // namespace runvm
