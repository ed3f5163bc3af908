#include "spec/base/event_loop.h"

#include <sys/eventfd.h>

#include <atomic>

namespace runvm {

namespace {
constexpr uint64_t kWakeToken = 0;
}

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

}  // namespace runvm
