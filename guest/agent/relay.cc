#include "guest/agent/relay.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace runvm::agent {
namespace {

Status set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno_error("fcntl");
  return {};
}

}  // namespace

Result<std::unique_ptr<Relay>> Relay::create(EventLoop& loop, UniqueFd src, UniqueFd dst,
                                             std::function<void()> on_progress) {
  RUNVM_CHECK(set_nonblocking(src.get()).context("relay source"));
  if (dst) RUNVM_CHECK(set_nonblocking(dst.get()).context("relay destination"));
  std::unique_ptr<Relay> r(new Relay(loop, std::move(src), std::move(dst), std::move(on_progress)));
  r->update_interest();
  return r;
}

Relay::~Relay() {
  if (src_watched_) loop_.remove(src_.get());
  if (dst_watched_) loop_.remove(dst_.get());
}

bool Relay::read_some() {
  if (src_eof_ || buffered() >= kBufferSize) return false;
  if (end_ == kBufferSize) {  // room only before begin_: move the rest down
    std::memmove(buf_.get(), buf_.get() + begin_, buffered());
    end_ -= begin_;
    begin_ = 0;
  }
  ssize_t n = ::read(src_.get(), buf_.get() + end_, kBufferSize - end_);
  if (n > 0) {
    src_idle_ = false;
    if (dst_ && !dst_broken_) end_ += static_cast<size_t>(n);
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    src_idle_ = errno == EAGAIN;
    return false;
  }
  // 0 or an error: EOF. A pty master reads EIO once every slave fd closed.
  src_eof_ = true;
  return true;
}

bool Relay::write_some() {
  if (buffered() == 0 || dst_broken_) return false;
  ssize_t n = ::send(dst_.get(), buf_.get() + begin_, buffered(), MSG_NOSIGNAL);
  if (n < 0 && errno == ENOTSOCK) n = ::write(dst_.get(), buf_.get() + begin_, buffered());
  if (n > 0) {
    begin_ += static_cast<size_t>(n);
    if (begin_ == end_) begin_ = end_ = 0;
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  // The reader is gone: nothing more can be delivered; drop what is left.
  dst_broken_ = true;
  begin_ = end_ = 0;
  return true;
}

void Relay::pump() {
  for (bool progress = true; progress;) progress = write_some() | read_some();
  update_interest();
  if (finished() && dst_) dst_.reset();  // EOF for the host (unwatched: nothing buffered)
}

void Relay::update_interest() {
  // A broken destination still drains the source, or the writer would block.
  bool want_src = !src_eof_ && buffered() < kBufferSize;
  bool want_dst = dst_ && buffered() > 0 && !dst_broken_;
  auto on_event = [this](uint32_t) {
    pump();
    on_progress_();
  };
  // Unwatched rather than zero interest: epoll reports HUP regardless, which
  // would spin while we cannot act on it.
  if (want_src != src_watched_) {
    if (want_src)
      src_watched_ = loop_.add(src_.get(), EPOLLIN, on_event).ok();
    else {
      loop_.remove(src_.get());
      src_watched_ = false;
    }
  }
  if (want_dst != dst_watched_) {
    if (want_dst)
      dst_watched_ = loop_.add(dst_.get(), EPOLLOUT, on_event).ok();
    else {
      loop_.remove(dst_.get());
      dst_watched_ = false;
    }
  }
}

}  // namespace runvm::agent
