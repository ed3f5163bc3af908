// Single-threaded epoll loop. Handlers may add/remove registrations (their
// own included) while being dispatched: each registration has a token, and a
// removed token is simply skipped.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class EventLoop {
 public:
  using Handler = std::function<void(uint32_t events)>;

  static Result<std::unique_ptr<EventLoop>> create();

  // Registers fd (not owned) for epoll `events`; one registration per fd.
  Status add(int fd, uint32_t events, Handler handler);
  Status modify(int fd, uint32_t events);
  void remove(int fd);
  bool contains(int fd) const { return by_fd_.count(fd) != 0; }

  // Dispatches ready events once; timeout as for epoll_wait.
  Status run_once(int timeout_ms);
  // Runs until stop() is called (from a handler or, via wakeup, another thread).
  Status run();
  // Thread-safe.
  void stop();

 private:
  EventLoop() = default;
  struct Entry {
    int fd;
    Handler handler;
  };
  UniqueFd epfd_;
  UniqueFd wake_fd_;  // eventfd that interrupts epoll_wait for stop()
  uint64_t next_token_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Entry>> by_token_;
  std::unordered_map<int, uint64_t> by_fd_;
  bool stopping_ = false;
};

}  // namespace runvm
