// Length-prefixed framing: a 4-byte big-endian length N, then N bytes of
// JSON. N is untrusted: it is checked against kMaxFrameSize before anything
// is allocated from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "guest/protocol/constants.h"
#include "spec/base/result.h"

namespace runvm::proto {

inline constexpr size_t kFrameHeaderSize = 4;

// Header + body; error when the body exceeds kMaxFrameSize.
Result<std::string> encode_frame(std::string_view json);

// Incremental decoder for nonblocking readers: feed() whatever arrived, then
// pop frames with next() until it yields nullopt. After an oversized header
// the decoder is poisoned: the stream cannot be resynchronised.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_frame = kMaxFrameSize) : max_frame_(max_frame) {}

  // Error when the decoder has already failed or a frame header is oversized.
  Status feed(std::string_view bytes);

  // The next complete frame body, nullopt when more bytes are needed.
  Result<std::optional<std::string>> next();

  // Bytes buffered but not yet returned as frames (a partial frame at EOF
  // means the peer died mid-message).
  size_t buffered() const { return buf_.size() - pos_; }
  bool failed() const { return failed_; }

 private:
  Status check_header();

  size_t max_frame_;
  std::string buf_;
  size_t pos_ = 0;  // start of the first unconsumed frame in buf_
  bool failed_ = false;
};

// Blocking helpers, EINTR-safe, handling short reads/writes. write_frame
// never raises SIGPIPE on sockets.
Status write_frame(int fd, std::string_view json);
// nullopt on clean EOF at a frame boundary; EOF mid-frame is an error.
Result<std::optional<std::string>> read_frame(int fd, size_t max_frame = kMaxFrameSize);

// Whole-buffer I/O used by the above and by stream users (transfers).
Status write_all(int fd, const void* data, size_t len);
// Reads exactly len bytes; returns the count read before EOF (< len on EOF).
Result<size_t> read_full(int fd, void* data, size_t len);

}  // namespace runvm::proto
