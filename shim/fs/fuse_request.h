// FUSE over virtio (virtio-fs): one request per descriptor chain. The
// device-readable part is fuse_in_header + op arguments (+ WRITE data), the
// device-writable part receives fuse_out_header + the reply. Everything in a
// request comes from the guest: lengths are checked against the chain, the
// arguments are copied out of guest memory once (no double fetch) and names
// must be NUL-terminated within bounds.
#pragma once

#include <linux/fuse.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "shim/virtio/virtqueue.h"
#include "spec/base/result.h"

namespace runvm::fuse {

// Largest argument block (everything after the header, except WRITE data)
// we accept: a SETXATTR name plus a value of XATTR_SIZE_MAX.
inline constexpr size_t kMaxArgBytes = 64 * 1024 + 4096;

struct Request {
  fuse_in_header in{};
  std::span<const uint8_t> args;  // op arguments, our own copy
  // WRITE only: the data, still in guest memory, and its length (== write_in.size).
  std::vector<iovec> write_data;
  size_t write_size = 0;
};

// Reads requests out of chains; owns the argument buffer (reused).
class RequestParser {
 public:
  // Error with code EINVAL when the chain is malformed. `unique` is set
  // whenever the header itself could be read (so an error can be replied).
  Result<Request> parse(const DescChain& chain, std::optional<uint64_t>& unique);

 private:
  std::vector<uint8_t> buf_;
};

// Sequential, bounds-checked view of a request's arguments.
class ArgReader {
 public:
  explicit ArgReader(std::span<const uint8_t> args) : a_(args) {}
  size_t remaining() const { return a_.size() - off_; }

  // A fixed struct; false if fewer than sizeof(T) bytes remain.
  template <class T>
  bool read(T& out) {
    return read_prefix(out, sizeof(T));
  }
  // The first `size` (<= sizeof(T)) bytes of a struct whose older protocol
  // versions were shorter; the rest is zeroed.
  template <class T>
  bool read_prefix(T& out, size_t size) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (size > sizeof(T) || remaining() < size) return false;
    std::memset(&out, 0, sizeof out);
    std::memcpy(&out, a_.data() + off_, size);
    off_ += size;
    return true;
  }
  // A NUL-terminated string of at most max_len bytes (without the NUL).
  std::optional<std::string_view> cstring(size_t max_len);
  // A NUL-terminated single path component that is safe to use relative to
  // a directory: not empty, ".", "..", no '/', at most NAME_MAX bytes.
  std::optional<std::string_view> name();
  // Why the last name() failed, as Linux answers it: ENAMETOOLONG for a
  // terminated name longer than NAME_MAX (FUSE sends up to 1024 bytes),
  // EINVAL for anything else.
  int name_errno() const { return name_errno_; }
  std::optional<std::span<const uint8_t>> bytes(size_t n);

 private:
  std::span<const uint8_t> a_;
  size_t off_ = 0;
  int name_errno_ = EINVAL;
};

bool is_safe_name(std::string_view name);

// A host file's attributes as FUSE reports them.
fuse_attr attr_from_stat(const struct stat& st);

// Builds the reply in a chain's writable buffers: an error (header only) or
// header + payload. A payload that does not fit becomes -ERANGE; a chain too
// short even for the header gets nothing (used length 0).
class ReplyWriter {
 public:
  ReplyWriter(const std::vector<std::span<uint8_t>>& writable, uint64_t unique)
      : out_(writable), unique_(unique) {}

  size_t capacity() const;  // payload bytes that fit after the header

  // Each returns the used length to report for the chain.
  uint32_t error(int err);
  uint32_t ok() { return ok({}); }
  uint32_t ok(std::span<const uint8_t> payload);
  template <class T>
  uint32_t ok_struct(const T& v) {
    return ok({reinterpret_cast<const uint8_t*>(&v), sizeof v});
  }
  // For payloads produced in place (READ): iovecs over up to `max` payload
  // bytes, then finish() with how many were filled.
  std::vector<iovec> payload_iov(size_t max) const;
  uint32_t finish(size_t payload_len);
  // The errno of the reply written (0: a success, or none written yet).
  int error_sent() const { return error_sent_; }

 private:
  uint32_t write_header(int err, size_t payload_len);
  const std::vector<std::span<uint8_t>>& out_;
  uint64_t unique_;
  int error_sent_ = 0;
};

}  // namespace runvm::fuse
