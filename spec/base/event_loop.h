// Single-threaded epoll loop with one-shot timers. Handlers may add/remove
// registrations and timers (their own included) while being dispatched: each
// registration has a token, and a removed token is simply skipped. Timers
// share one timerfd (CLOCK_MONOTONIC) armed for the earliest deadline; Timer
// (below) is the owning handle on them, one-shot or periodic.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

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

  // Runs `fn` once, from the loop, `delay` from now (0: at the next turn).
  // Ids are never reused; cancelling a fired or unknown id does nothing.
  using TimerId = uint64_t;
  Result<TimerId> add_timer(std::chrono::milliseconds delay, std::function<void()> fn);
  void cancel_timer(TimerId id);
  size_t pending_timers() const { return timers_.size(); }

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
  UniqueFd wake_fd_;   // eventfd that interrupts epoll_wait for stop()
  UniqueFd timer_fd_;  // armed for the earliest of timers_
  uint64_t next_token_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Entry>> by_token_;
  std::unordered_map<int, uint64_t> by_fd_;
  bool stopping_ = false;
  // By (deadline in CLOCK_MONOTONIC ns, id); deadline_of_ finds an id's key.
  std::map<std::pair<int64_t, TimerId>, std::function<void()>> timers_;
  std::unordered_map<TimerId, int64_t> deadline_of_;
  TimerId next_timer_ = 1;

  Status arm_timer_fd();
  Status fire_timers();
};

// A timer of `loop` that cancels itself when destroyed: its callback runs on
// the loop's thread like any other handler, never after the Timer is gone.
// One-shot or periodic; re-arming replaces the previous setting.
class Timer {
 public:
  // `loop` must outlive the timer.
  Timer(EventLoop& loop, std::function<void()> fire) : loop_(loop), fire_(std::move(fire)) {}
  ~Timer() { disarm(); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Fires once after `after` (at least 1 ms), then every `every` if non-zero.
  void arm(std::chrono::milliseconds after,
           std::chrono::milliseconds every = std::chrono::milliseconds(0));
  void disarm();
  bool armed() const { return id_.has_value(); }

 private:
  void schedule(std::chrono::milliseconds delay);
  void on_fire();

  EventLoop& loop_;
  std::function<void()> fire_;
  std::optional<EventLoop::TimerId> id_;  // set while armed
  std::chrono::milliseconds every_{0};
};

}  // namespace runvm
