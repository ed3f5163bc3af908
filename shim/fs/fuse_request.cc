#include "shim/fs/fuse_request.h"

#include <climits>
#include <cstring>

namespace runvm::fuse {

Result<Request> RequestParser::parse(const DescChain& chain, std::optional<uint64_t>& unique) {
  unique.reset();
  ChainReader r(chain.readable);
  Request req;
  if (r.read(&req.in, sizeof req.in) != sizeof req.in)
    return make_error("fuse: request shorter than its header", EINVAL);
  unique = req.in.unique;
  const uint64_t readable = chain.readable_bytes();
  if (req.in.len != readable)
    return make_error("fuse: header len " + std::to_string(req.in.len) + " but " +
                          std::to_string(readable) + " readable bytes",
                      EINVAL);
  if (req.in.total_extlen != 0) return make_error("fuse: unexpected request extensions", EINVAL);
  size_t rest = readable - sizeof req.in;

  size_t arg_len = rest;
  if (req.in.opcode == FUSE_WRITE) {
    fuse_write_in w;
    if (rest < sizeof w) return make_error("fuse: WRITE without arguments", EINVAL);
    arg_len = sizeof w;
    if (rest - sizeof w > UINT32_MAX) return make_error("fuse: WRITE too large", EINVAL);
  } else if (rest > kMaxArgBytes) {
    return make_error("fuse: arguments too large", EINVAL);
  }
  buf_.resize(arg_len);
  r.read(buf_.data(), arg_len);
  req.args = {buf_.data(), arg_len};

  if (req.in.opcode == FUSE_WRITE) {
    fuse_write_in w;
    std::memcpy(&w, buf_.data(), sizeof w);
    req.write_size = rest - sizeof w;
    if (w.size != req.write_size)
      return make_error("fuse: WRITE size does not match its data", EINVAL);
    for (;;) {
      auto piece = r.next_piece(SIZE_MAX);
      if (piece.empty()) break;
      req.write_data.push_back({const_cast<uint8_t*>(piece.data()), piece.size()});
    }
  }
  return req;
}

std::optional<std::string_view> ArgReader::cstring(size_t max_len) {
  const size_t avail = remaining();
  const auto* start = reinterpret_cast<const char*>(a_.data() + off_);
  const void* nul = std::memchr(start, '\0', std::min(avail, max_len + 1));
  if (!nul) return std::nullopt;
  std::string_view s(start, static_cast<const char*>(nul) - start);
  off_ += s.size() + 1;
  return s;
}

std::optional<std::string_view> ArgReader::name() {
  name_errno_ = EINVAL;
  auto s = cstring(NAME_MAX);
  if (!s) {
    if (std::memchr(a_.data() + off_, '\0', remaining())) name_errno_ = ENAMETOOLONG;
    return std::nullopt;
  }
  if (!is_safe_name(*s)) return std::nullopt;
  return s;
}

std::optional<std::span<const uint8_t>> ArgReader::bytes(size_t n) {
  if (remaining() < n) return std::nullopt;
  auto s = a_.subspan(off_, n);
  off_ += n;
  return s;
}

bool is_safe_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.size() <= NAME_MAX &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

size_t ReplyWriter::capacity() const {
  size_t n = 0;
  for (auto& b : out_) n += b.size();
  return n < sizeof(fuse_out_header) ? 0 : n - sizeof(fuse_out_header);
}

uint32_t ReplyWriter::write_header(int err, size_t payload_len) {
  size_t total = 0;
  for (auto& b : out_) total += b.size();
  if (total < sizeof(fuse_out_header)) return 0;
  fuse_out_header h{static_cast<uint32_t>(sizeof h + payload_len), -err, unique_};
  ChainWriter w(out_);
  w.write(&h, sizeof h);
  error_sent_ = err;
  return h.len;
}

uint32_t ReplyWriter::error(int err) { return write_header(err > 0 ? err : EIO, 0); }

uint32_t ReplyWriter::ok(std::span<const uint8_t> payload) {
  size_t total = 0;
  for (auto& b : out_) total += b.size();
  if (total < sizeof(fuse_out_header)) return 0;  // no room even for a header: no reply
  if (payload.size() > capacity()) return error(ERANGE);
  fuse_out_header h{static_cast<uint32_t>(sizeof h + payload.size()), 0, unique_};
  ChainWriter w(out_);
  w.write(&h, sizeof h);
  w.write(payload.data(), payload.size());
  return h.len;
}

std::vector<iovec> ReplyWriter::payload_iov(size_t max) const {
  std::vector<iovec> iov;
  size_t skip = sizeof(fuse_out_header);
  for (auto& b : out_) {
    if (max == 0) break;
    size_t off = std::min(skip, b.size());
    skip -= off;
    size_t n = std::min(b.size() - off, max);
    if (n) iov.push_back({b.data() + off, n});
    max -= n;
  }
  return iov;
}

uint32_t ReplyWriter::finish(size_t payload_len) {
  if (payload_len > capacity()) return error(EIO);
  return write_header(0, payload_len);
}

fuse_attr attr_from_stat(const struct stat& st) {
  fuse_attr a{};
  a.ino = st.st_ino;
  a.size = static_cast<uint64_t>(st.st_size);
  a.blocks = static_cast<uint64_t>(st.st_blocks);
  a.atime = static_cast<uint64_t>(st.st_atim.tv_sec);
  a.mtime = static_cast<uint64_t>(st.st_mtim.tv_sec);
  a.ctime = static_cast<uint64_t>(st.st_ctim.tv_sec);
  a.atimensec = static_cast<uint32_t>(st.st_atim.tv_nsec);
  a.mtimensec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
  a.ctimensec = static_cast<uint32_t>(st.st_ctim.tv_nsec);
  a.mode = st.st_mode;
  a.nlink = static_cast<uint32_t>(st.st_nlink);
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.rdev = static_cast<uint32_t>(st.st_rdev);
  a.blksize = static_cast<uint32_t>(st.st_blksize);
  return a;
}

}  // namespace runvm::fuse
