#include "spec/base/timer.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>

namespace runvm {
namespace {

timespec to_timespec(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000), static_cast<long>(ms.count() % 1000) * 1000000};
}

}  // namespace

Result<std::unique_ptr<Timer>> Timer::create(EventLoop& loop, std::function<void()> fire) {
  std::unique_ptr<Timer> t(new Timer(loop, std::move(fire)));
  t->fd_.reset(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!t->fd_) return errno_error("timerfd_create");
  Timer* self = t.get();
  RUNVM_CHECK(loop.add(t->fd_.get(), EPOLLIN, [self](uint32_t) { self->on_ready(); }));
  return t;
}

Timer::~Timer() { loop_.remove(fd_.get()); }

void Timer::arm(std::chrono::milliseconds after, std::chrono::milliseconds every) {
  // A zero it_value would disarm: the earliest is 1 ms.
  itimerspec spec{to_timespec(every), to_timespec(std::max(after, std::chrono::milliseconds(1)))};
  timerfd_settime(fd_.get(), 0, &spec, nullptr);
  armed_ = true;
  periodic_ = every.count() > 0;
}

void Timer::disarm() {
  itimerspec spec{};
  timerfd_settime(fd_.get(), 0, &spec, nullptr);
  armed_ = false;
}

void Timer::on_ready() {
  uint64_t expirations;
  // Nothing to read: disarmed (or re-armed) after it became readable.
  if (read(fd_.get(), &expirations, sizeof expirations) != sizeof expirations) return;
  if (!periodic_) armed_ = false;
  fire_();  // last: it may re-arm, disarm or even destroy this timer
}

}  // namespace runvm
