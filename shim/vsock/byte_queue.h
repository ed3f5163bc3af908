// FIFO of bytes waiting for a nonblocking fd to become writable.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace runvm::vsock {

class ByteQueue {
 public:
  bool empty() const { return size() == 0; }
  size_t size() const { return buf_.size() - head_; }
  void append(std::span<const uint8_t> data) { buf_.insert(buf_.end(), data.begin(), data.end()); }
  std::span<const uint8_t> front() const { return {buf_.data() + head_, size()}; }
  void consume(size_t n) {
    head_ += n < size() ? n : size();
    if (head_ == buf_.size()) {
      buf_.clear();
      head_ = 0;
    } else if (head_ >= 64 * 1024 && head_ * 2 >= buf_.size()) {
      // Compact now and then so the vector does not grow without bound.
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(head_));
      head_ = 0;
    }
  }

 private:
  std::vector<uint8_t> buf_;
  size_t head_ = 0;
};

}  // namespace runvm::vsock
