#include "guest/protocol/frame.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace runvm::proto {
namespace {

uint32_t load_be32(const char* p) {
  auto b = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

void store_be32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

Error oversize(uint64_t n, size_t max) {
  return make_error("frame of " + std::to_string(n) + " bytes exceeds the limit of " +
                    std::to_string(max));
}

}  // namespace

Result<std::string> encode_frame(std::string_view json) {
  if (json.size() > kMaxFrameSize) return oversize(json.size(), kMaxFrameSize);
  std::string out(kFrameHeaderSize + json.size(), '\0');
  store_be32(out.data(), static_cast<uint32_t>(json.size()));
  out.replace(kFrameHeaderSize, json.size(), json);
  return out;
}

Status FrameDecoder::check_header() {
  if (buffered() < kFrameHeaderSize) return {};
  uint32_t n = load_be32(buf_.data() + pos_);
  if (n > max_frame_) {
    failed_ = true;
    return oversize(n, max_frame_);
  }
  return {};
}

Status FrameDecoder::feed(std::string_view bytes) {
  if (failed_) return make_error("frame decoder: stream already failed");
  // Drop consumed frames before growing, so the buffer stays about one frame.
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
  return check_header();
}

Result<std::optional<std::string>> FrameDecoder::next() {
  if (failed_) return make_error("frame decoder: stream already failed");
  RUNVM_CHECK(check_header());
  if (buffered() < kFrameHeaderSize) return std::optional<std::string>();
  uint32_t n = load_be32(buf_.data() + pos_);
  if (buffered() - kFrameHeaderSize < n) return std::optional<std::string>();
  std::string body = buf_.substr(pos_ + kFrameHeaderSize, n);
  pos_ += kFrameHeaderSize + n;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return std::optional<std::string>(std::move(body));
}

Status write_all(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  bool is_socket = true;
  while (len > 0) {
    ssize_t n = is_socket ? ::send(fd, p, len, MSG_NOSIGNAL) : ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOTSOCK && is_socket) {
        is_socket = false;
        continue;
      }
      return errno_error("write");
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return {};
}

Result<size_t> read_full(int fd, void* data, size_t len) {
  char* p = static_cast<char*>(data);
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::read(fd, p + got, len - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read");
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

Status write_frame(int fd, std::string_view json) {
  std::string frame = RUNVM_TRY(encode_frame(json));
  return write_all(fd, frame.data(), frame.size());
}

Result<std::optional<std::string>> read_frame(int fd, size_t max_frame) {
  char header[kFrameHeaderSize];
  size_t got = RUNVM_TRY(read_full(fd, header, sizeof header));
  if (got == 0) return std::optional<std::string>();
  if (got < sizeof header) return make_error("EOF inside a frame header");
  uint32_t n = load_be32(header);
  if (n > max_frame) return oversize(n, max_frame);
  std::string body(n, '\0');
  got = RUNVM_TRY(read_full(fd, body.data(), n));
  if (got < n) return make_error("EOF inside a frame body");
  return std::optional<std::string>(std::move(body));
}

}  // namespace runvm::proto
