// One-way byte relay between two fds driven by the agent's event loop (the
// pty of a terminal container <-> its vsock stdio streams). Never blocks the
// agent: both fds are made nonblocking and at most kBufferSize bytes are held;
// a destination that stops reading stalls only this relay.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "spec/base/event_loop.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

class Relay {
 public:
  static constexpr size_t kBufferSize = 64 * 1024;

  // dst may be invalid: the bytes are read and dropped. on_progress runs
  // after every event the relay handled (the agent checks pending exits).
  static Result<std::unique_ptr<Relay>> create(EventLoop& loop, UniqueFd src, UniqueFd dst,
                                               std::function<void()> on_progress);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Moves as many bytes as possible now.
  void pump();
  // Nothing buffered and the last read found the source empty (or at EOF),
  // or the destination is gone: everything written to the source before
  // this call has been delivered.
  bool quiescent() const { return dst_broken_ || (buffered() == 0 && (src_idle_ || src_eof_)); }
  // Source at EOF and all of it delivered (the destination is then closed,
  // so the host sees EOF too), or the destination is gone (the source is
  // still drained and dropped, so its writer never blocks).
  bool finished() const { return dst_broken_ || (src_eof_ && buffered() == 0); }

 private:
  Relay(EventLoop& loop, UniqueFd src, UniqueFd dst, std::function<void()> on_progress)
      : loop_(loop),
        src_(std::move(src)),
        dst_(std::move(dst)),
        on_progress_(std::move(on_progress)) {}
  size_t buffered() const { return end_ - begin_; }
  bool read_some();
  bool write_some();
  void update_interest();

  EventLoop& loop_;
  UniqueFd src_, dst_;
  std::function<void()> on_progress_;
  // Bytes read and not yet written: buf_[begin_, end_), read into in place.
  std::unique_ptr<char[]> buf_ = std::make_unique<char[]>(kBufferSize);
  size_t begin_ = 0, end_ = 0;
  bool src_eof_ = false;
  bool src_idle_ = false;
  bool dst_broken_ = false;
  bool src_watched_ = false;
  bool dst_watched_ = false;
};

}  // namespace runvm::agent
