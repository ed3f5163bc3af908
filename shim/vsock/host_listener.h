// The hybrid-vsock listening socket: accepts host clients and reads their
// "CONNECT <port>\n" line (byte by byte, so data that follows the line stays
// in the socket for the guest), then hands the client over.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "spec/base/event_loop.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::vsock {

class HostListener {
 public:
  using Clock = std::chrono::steady_clock;
  using OnConnect = std::function<void(UniqueFd client, uint32_t guest_port)>;
  static constexpr size_t kMaxPendingClients = 64;

  // Listens on `path` (unlinked again on destruction); clients get
  // `line_timeout` to send their CONNECT line.
  static Result<std::unique_ptr<HostListener>> create(EventLoop& loop, std::string path,
                                                      Clock::duration line_timeout,
                                                      OnConnect on_connect);
  ~HostListener();
  HostListener(const HostListener&) = delete;
  HostListener& operator=(const HostListener&) = delete;

  // Drops clients that did not send their line in time; resumes accepting
  // after fd exhaustion. Called periodically.
  void expire(Clock::time_point now);
  size_t pending_clients() const { return pending_.size(); }

 private:
  struct Pending {
    UniqueFd fd;
    std::string line;
    Clock::time_point deadline;
  };
  HostListener(EventLoop& loop, std::string path, Clock::duration line_timeout, OnConnect cb)
      : loop_(loop),
        path_(std::move(path)),
        line_timeout_(line_timeout),
        on_connect_(std::move(cb)) {}
  void on_accept();
  void on_client(int fd);
  void drop(int fd);

  EventLoop& loop_;
  std::string path_;
  Clock::duration line_timeout_;
  OnConnect on_connect_;
  UniqueFd listen_fd_;
  std::map<int, Pending> pending_;
  bool paused_ = false;
};

}  // namespace runvm::vsock
