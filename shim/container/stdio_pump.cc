#include "shim/container/stdio_pump.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <future>
#include <vector>

#include "shim/confine/confine.h"
#include "spec/base/log.h"

namespace runvm {

StdioPump::StdioPump(int src, UniqueFd dst)
    : owned_dst_(std::move(dst)), src_(src), dst_(owned_dst_.get()) {
  start();
}

StdioPump::StdioPump(UniqueFd src, int dst)
    : owned_src_(std::move(src)), src_(owned_src_.get()), dst_(dst) {
  start();
}

void StdioPump::start() {
  // The thread copies guest output: it confines itself (the stdio role,
  // shim/confine) before the first byte, and the pump exists only once it
  // did, so every thread of a running shim is confined.
  std::promise<void> confined;
  auto ready = confined.get_future();
  thread_ = std::thread([this, &confined] {
    if (auto c = confine::confine_thread(confine::Role::kStdio); !c.ok()) {
      // Unconfined guest data is not an option: the shim ends (as killed).
      log::error("stdio relay: " + c.error().message);
      std::abort();
    }
    confined.set_value();
    run();
  });
  ready.wait();
}

StdioPump::~StdioPump() {
  if (thread_.joinable()) thread_.join();
}

void StdioPump::join() {
  if (thread_.joinable()) thread_.join();
}

bool StdioPump::wait_for(int timeout_ms) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return done_; }))
    return false;
  lock.unlock();
  join();
  return true;
}

void StdioPump::detach() {
  if (thread_.joinable()) {
    thread_.detach();
    // The thread still uses the fds; hand them over rather than close them under it.
    (void)owned_src_.release();
    (void)owned_dst_.release();
  }
}

void StdioPump::run() {
  copy();
  std::lock_guard lock(mu_);
  done_ = true;
  cv_.notify_all();
}

void StdioPump::copy() {
  // 16 KiB at a time: bytes() is how the drain after the exit sees a slow
  // reader's progress (ContainerShim::finish gives up after 5 s without
  // any), and a blocking write to a pipe returns only once all of it went
  // in: 64 KiB took a 13 KB/s reader 5 s.
  std::vector<char> buf(16 * 1024);
  while (true) {
    ssize_t n = read(src_, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t off = 0;
    while (off < static_cast<size_t>(n)) {
      ssize_t w = send(dst_, buf.data() + off, n - off, MSG_NOSIGNAL);
      if (w < 0 && errno == ENOTSOCK) w = write(dst_, buf.data() + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;  // reader gone: nothing more to deliver
      off += static_cast<size_t>(w);
    }
    bytes_ += static_cast<uint64_t>(n);
  }
  struct stat st;
  if (fstat(dst_, &st) == 0 && S_ISSOCK(st.st_mode)) shutdown(dst_, SHUT_WR);
}

}  // namespace runvm
