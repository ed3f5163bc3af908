#include "shim/fs/fuse_server.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace runvm {

namespace {
// Descriptors a request needs besides its data pages: in header + args
// (up to 2), out header + args (2), and slack for unaligned buffers.
constexpr uint16_t kDescOverhead = 8;
}  // namespace

void FuseServer::set_queue_size(uint16_t queue_size) {
  max_pages_ = queue_size > kDescOverhead + 1
                   ? std::min<uint32_t>(kMaxPages, queue_size - kDescOverhead)
                   : 1;
}

int FuseServer::parse_init(const fuse::Request& req, fuse_init_in& in) {
  fuse::ArgReader a(req.args);
  // Before 7.36 the request ended after `flags` (16 bytes).
  if (a.remaining() < 16 || !a.read_prefix(in, std::min(a.remaining(), sizeof in))) return EINVAL;
  if (in.major != FUSE_KERNEL_VERSION || in.minor < kMinMinor) return EPROTO;
  return 0;
}

uint32_t FuseServer::handle(const DescChain& chain) {
  const auto start = std::chrono::steady_clock::now();
  std::optional<uint64_t> unique;
  auto req = parser_.parse(chain, unique);
  if (!req.ok()) {
    if (!unique) return 0;
    fuse::ReplyWriter rw(chain.writable, *unique);
    return rw.error(req.error().code ? req.error().code : EINVAL);
  }
  fuse::ReplyWriter rw(chain.writable, req->in.unique);
  const uint32_t len = dispatch(*req, rw);
  const uint32_t opcode = req->in.opcode;
  if (opcode == FUSE_GETXATTR && req->args.size() > sizeof(fuse_getxattr_in) &&
      fuse::is_capability_getxattr(
          {reinterpret_cast<const char*>(req->args.data()) + sizeof(fuse_getxattr_in),
           req->args.size() - sizeof(fuse_getxattr_in)}))
    stats_.record_capability_query();
  if (opcode == FUSE_SETATTR && req->args.size() >= sizeof(fuse_setattr_in)) {
    fuse_setattr_in in;
    std::memcpy(&in, req->args.data(), sizeof in);
    stats_.record_setattr(in.valid);
  }
  stats_.record(opcode,
                static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now() - start)
                                          .count()),
                rw.error_sent() != 0);
  return len;
}

}  // namespace runvm
