#include "spec/base/event_loop.h"

#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <vector>

namespace runvm {

namespace {
constexpr uint64_t kWakeToken = 0;
constexpr uint64_t kTimerToken = UINT64_MAX;  // fd tokens count up from 1

int64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  loop->epfd_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!loop->epfd_) return errno_error("epoll_create1");
  loop->wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!loop->wake_fd_) return errno_error("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  if (epoll_ctl(loop->epfd_.get(), EPOLL_CTL_ADD, loop->wake_fd_.get(), &ev) < 0)
    return errno_error("epoll_ctl");
  loop->timer_fd_.reset(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!loop->timer_fd_) return errno_error("timerfd_create");
  ev.data.u64 = kTimerToken;
  if (epoll_ctl(loop->epfd_.get(), EPOLL_CTL_ADD, loop->timer_fd_.get(), &ev) < 0)
    return errno_error("epoll_ctl");
  return loop;
}

Status EventLoop::add(int fd, uint32_t events, Handler handler) {
  if (by_fd_.count(fd)) return make_error("event loop: fd already registered", EEXIST);
  uint64_t token = next_token_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) return errno_error("epoll_ctl add");
  by_token_[token] = std::make_shared<Entry>(Entry{fd, std::move(handler)});
  by_fd_[fd] = token;
  return {};
}

Status EventLoop::modify(int fd, uint32_t events) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return make_error("event loop: fd not registered", ENOENT);
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = it->second;
  if (epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev) < 0) return errno_error("epoll_ctl mod");
  return {};
}

void EventLoop::remove(int fd) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  by_token_.erase(it->second);
  by_fd_.erase(it);
}

Result<EventLoop::TimerId> EventLoop::add_timer(std::chrono::milliseconds delay,
                                                std::function<void()> fn) {
  int64_t ms = std::max<int64_t>(delay.count(), 0);
  int64_t deadline = monotonic_ns() + ms * 1'000'000;
  TimerId id = next_timer_++;
  timers_.emplace(std::make_pair(deadline, id), std::move(fn));
  deadline_of_[id] = deadline;
  if (timers_.begin()->first.second == id) {
    if (auto st = arm_timer_fd(); !st.ok()) {
      cancel_timer(id);
      return std::move(st).error();
    }
  }
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  auto it = deadline_of_.find(id);
  if (it == deadline_of_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
  deadline_of_.erase(it);
  // The timerfd may stay armed for it: an early wake-up fires nothing.
}

Status EventLoop::arm_timer_fd() {
  itimerspec spec{};
  if (!timers_.empty()) {
    int64_t at = std::max<int64_t>(timers_.begin()->first.first, 1);  // 0 would disarm
    spec.it_value.tv_sec = at / 1'000'000'000;
    spec.it_value.tv_nsec = at % 1'000'000'000;
  }
  if (timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) < 0)
    return errno_error("timerfd_settime");
  return {};
}

Status EventLoop::fire_timers() {
  uint64_t expirations;
  [[maybe_unused]] auto r = read(timer_fd_.get(), &expirations, sizeof expirations);
  // Only what was due on entry: a timer a handler adds, even with no delay,
  // waits for the next turn instead of starving the fds.
  int64_t now = monotonic_ns();
  std::vector<TimerId> due;
  for (const auto& [key, fn] : timers_) {
    if (key.first > now) break;
    due.push_back(key.second);
  }
  for (TimerId id : due) {
    auto it = deadline_of_.find(id);
    if (it == deadline_of_.end()) continue;  // cancelled by an earlier handler
    auto node = timers_.extract(std::make_pair(it->second, id));
    deadline_of_.erase(it);
    node.mapped()();  // may add or cancel timers
  }
  return arm_timer_fd();
}

Status EventLoop::run_once(int timeout_ms) {
  epoll_event events[64];
  int n = epoll_wait(epfd_.get(), events, 64, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return {};
    return errno_error("epoll_wait");
  }
  for (int i = 0; i < n; ++i) {
    uint64_t token = events[i].data.u64;
    if (token == kWakeToken) {
      uint64_t v;
      [[maybe_unused]] auto r = read(wake_fd_.get(), &v, sizeof v);
      continue;
    }
    if (token == kTimerToken) {
      RUNVM_CHECK(fire_timers());
      continue;
    }
    auto it = by_token_.find(token);
    if (it == by_token_.end()) continue;  // removed by an earlier handler
    auto entry = it->second;              // keep alive while it runs
    entry->handler(events[i].events);
  }
  return {};
}

Status EventLoop::run() {
  while (!__atomic_load_n(&stopping_, __ATOMIC_ACQUIRE)) RUNVM_CHECK(run_once(-1));
  __atomic_store_n(&stopping_, false, __ATOMIC_RELEASE);
  return {};
}

void EventLoop::stop() {
  __atomic_store_n(&stopping_, true, __ATOMIC_RELEASE);
  uint64_t one = 1;
  [[maybe_unused]] auto r = write(wake_fd_.get(), &one, sizeof one);
}

// --- Timer -------------------------------------------------------------------

void Timer::arm(std::chrono::milliseconds after, std::chrono::milliseconds every) {
  disarm();
  every_ = std::max(every, std::chrono::milliseconds(0));
  // As a timerfd's: the earliest is 1 ms, never "at once".
  schedule(std::max(after, std::chrono::milliseconds(1)));
}

void Timer::disarm() {
  if (id_) loop_.cancel_timer(*id_);
  id_.reset();
}

void Timer::schedule(std::chrono::milliseconds delay) {
  // add_timer fails only if the loop's timerfd cannot be set; then the timer
  // stays disarmed, as a timerfd_settime that failed left it.
  auto id = loop_.add_timer(delay, [this] { on_fire(); });
  if (id.ok()) id_ = *id;
}

void Timer::on_fire() {
  id_.reset();  // fired: nothing to cancel
  // Periodic: the next round is due before this one's callback runs, which
  // may disarm or re-arm it.
  if (every_.count() > 0) schedule(every_);
  // A copy: the callback may destroy this timer, and with it fire_.
  auto fire = fire_;
  fire();
}

}  // namespace runvm
