// A timer on an EventLoop: a timerfd watched by the loop, so its callback
// runs on the loop's thread like any other handler. One-shot or periodic;
// re-arming replaces the previous setting.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "spec/base/event_loop.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class Timer {
 public:
  // Registers with `loop`, which must outlive the timer.
  static Result<std::unique_ptr<Timer>> create(EventLoop& loop, std::function<void()> fire);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Fires once after `after` (at least 1 ms), then every `every` if non-zero.
  void arm(std::chrono::milliseconds after,
           std::chrono::milliseconds every = std::chrono::milliseconds(0));
  void disarm();
  bool armed() const { return armed_; }

 private:
  Timer(EventLoop& loop, std::function<void()> fire) : loop_(loop), fire_(std::move(fire)) {}
  void on_ready();

  EventLoop& loop_;
  std::function<void()> fire_;
  UniqueFd fd_;
  bool armed_ = false;
  bool periodic_ = false;
};

}  // namespace runvm
