// Copies one stdio stream between the shim's own fds (inherited from
// conmon, containerd or a terminal) and the container's vsock stream.
// Blocking I/O on a thread: the inherited fds are shared with other
// processes, so we must not switch them to O_NONBLOCK.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "spec/base/unique_fd.h"

namespace runvm {

class StdioPump {
 public:
  // Copies from `src` to `dst` until EOF or error on either side. At EOF of
  // src, a socket dst gets shutdown(SHUT_WR) so the reader sees EOF too.
  // Each fd is owned when given as UniqueFd, else borrowed.
  StdioPump(int src, UniqueFd dst);
  StdioPump(UniqueFd src, int dst);
  ~StdioPump();
  StdioPump(const StdioPump&) = delete;
  StdioPump& operator=(const StdioPump&) = delete;

  // Waits until the copy finished (src reached EOF).
  void join();
  // Like join() but gives up after timeout_ms; true when finished.
  bool wait_for(int timeout_ms);
  // Leaves the thread blocked in read(2) behind (stdin from a terminal
  // never reaches EOF); it dies with the process.
  void detach();
  uint64_t bytes() const { return bytes_.load(); }

 private:
  void start();
  void run();
  void copy();

  UniqueFd owned_src_, owned_dst_;
  int src_, dst_;
  std::atomic<uint64_t> bytes_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace runvm
