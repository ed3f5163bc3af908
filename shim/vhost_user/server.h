// vhost-user transport: a listening unix socket that serves one front-end
// (QEMU) at a time, frames its messages (header, then payload, fds via
// SCM_RIGHTS), hands them to a VhostUserBackend and writes the replies.
// Everything runs on the EventLoop thread.
//
// Error policy: a malformed header (bad version, oversized payload) or a
// socket error loses framing, so the connection is closed. A request that
// fails to parse or apply keeps the stream in sync: it is logged and failed
// with failure_reply() (an ack or empty reply where the front-end waits for
// one), and the connection stays up, since QEMU treats a closed back-end as fatal.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shim/vhost_user/backend.h"
#include "spec/base/event_loop.h"

namespace runvm::vhost_user {

class VhostUserServer {
 public:
  // Binds `socket_path` (mode 0600; fails if it exists) and starts accepting.
  static Result<std::unique_ptr<VhostUserServer>> listen(EventLoop& loop,
                                                         const std::string& socket_path,
                                                         VirtioDevice& device);
  // Drops any front-end (stopping its queues) and unlinks the socket.
  ~VhostUserServer();
  VhostUserServer(const VhostUserServer&) = delete;
  VhostUserServer& operator=(const VhostUserServer&) = delete;

  // Called after a front-end went away and its queues were stopped. It may
  // destroy this server.
  void set_on_disconnect(std::function<void()> cb) { on_disconnect_ = std::move(cb); }
  // Failed requests and dropped connections; default: stderr.
  void set_on_error(std::function<void(const Error&)> cb) { on_error_ = std::move(cb); }

  bool connected() const { return conn_.valid(); }
  const std::string& socket_path() const { return path_; }
  VhostUserBackend& backend() { return backend_; }

 private:
  VhostUserServer(EventLoop& loop, std::string path, UniqueFd listen_fd, VirtioDevice& device);

  void on_accept();
  void on_readable();
  // Reads what the socket has; false when the connection must close.
  Result<bool> read_some();
  // Handles the complete message in the buffers; an error closes the connection.
  Status dispatch();
  void reset_framing();
  Status write_reply(const Reply& reply);
  void drop_connection(const Error* why);
  void report(const Error& e);

  EventLoop& loop_;
  std::string path_;
  UniqueFd listen_fd_;
  UniqueFd conn_;
  VhostUserBackend backend_;
  std::function<void()> on_disconnect_;
  std::function<void(const Error&)> on_error_;

  // Framing state of the message being read.
  std::vector<uint8_t> buf_;  // header bytes, then header + payload
  size_t want_ = 0;           // bytes of buf_ the current stage needs
  size_t got_ = 0;            // bytes of buf_ filled
  bool have_header_ = false;
  Header header_;
  std::vector<UniqueFd> fds_;
};

}  // namespace runvm::vhost_user
