#include "shim/vsock/packet.h"

#include <cstddef>
#include <string>

namespace runvm::vsock {

namespace {

static_assert(sizeof(virtio_vsock_hdr) == kHdrSize);

template <class T>
void put(uint8_t* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
template <class T>
T get(const uint8_t* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

}  // namespace

HeaderBytes encode(const Header& h) {
  HeaderBytes b{};
  put(&b[offsetof(virtio_vsock_hdr, src_cid)], h.src_cid);
  put(&b[offsetof(virtio_vsock_hdr, dst_cid)], h.dst_cid);
  put(&b[offsetof(virtio_vsock_hdr, src_port)], h.src_port);
  put(&b[offsetof(virtio_vsock_hdr, dst_port)], h.dst_port);
  put(&b[offsetof(virtio_vsock_hdr, len)], h.len);
  put(&b[offsetof(virtio_vsock_hdr, type)], h.type);
  put(&b[offsetof(virtio_vsock_hdr, op)], h.op);
  put(&b[offsetof(virtio_vsock_hdr, flags)], h.flags);
  put(&b[offsetof(virtio_vsock_hdr, buf_alloc)], h.buf_alloc);
  put(&b[offsetof(virtio_vsock_hdr, fwd_cnt)], h.fwd_cnt);
  return b;
}

Header decode(const HeaderBytes& b) {
  Header h;
  h.src_cid = get<uint64_t>(&b[offsetof(virtio_vsock_hdr, src_cid)]);
  h.dst_cid = get<uint64_t>(&b[offsetof(virtio_vsock_hdr, dst_cid)]);
  h.src_port = get<uint32_t>(&b[offsetof(virtio_vsock_hdr, src_port)]);
  h.dst_port = get<uint32_t>(&b[offsetof(virtio_vsock_hdr, dst_port)]);
  h.len = get<uint32_t>(&b[offsetof(virtio_vsock_hdr, len)]);
  h.type = get<uint16_t>(&b[offsetof(virtio_vsock_hdr, type)]);
  h.op = get<uint16_t>(&b[offsetof(virtio_vsock_hdr, op)]);
  h.flags = get<uint32_t>(&b[offsetof(virtio_vsock_hdr, flags)]);
  h.buf_alloc = get<uint32_t>(&b[offsetof(virtio_vsock_hdr, buf_alloc)]);
  h.fwd_cnt = get<uint32_t>(&b[offsetof(virtio_vsock_hdr, fwd_cnt)]);
  return h;
}

Result<Header> read_header(ChainReader& r) {
  HeaderBytes b;
  if (r.read(b.data(), b.size()) != b.size())
    return make_error("vsock packet shorter than its header", EINVAL);
  Header h = decode(b);
  if (h.len > kMaxPayload)
    return make_error("vsock payload length " + std::to_string(h.len) + " over limit", EINVAL);
  if (h.len > r.remaining())
    return make_error("vsock payload length " + std::to_string(h.len) + " beyond the chain",
                      EINVAL);
  return h;
}

Header rst_for(const Header& to) {
  Header h;
  h.src_cid = to.dst_cid;
  h.dst_cid = to.src_cid;
  h.src_port = to.dst_port;
  h.dst_port = to.src_port;
  h.type = VIRTIO_VSOCK_TYPE_STREAM;
  h.op = VIRTIO_VSOCK_OP_RST;
  return h;
}

const char* op_name(uint16_t op) {
  switch (op) {
    case VIRTIO_VSOCK_OP_REQUEST:
      return "REQUEST";
    case VIRTIO_VSOCK_OP_RESPONSE:
      return "RESPONSE";
    case VIRTIO_VSOCK_OP_RST:
      return "RST";
    case VIRTIO_VSOCK_OP_SHUTDOWN:
      return "SHUTDOWN";
    case VIRTIO_VSOCK_OP_RW:
      return "RW";
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
      return "CREDIT_UPDATE";
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
      return "CREDIT_REQUEST";
    default:
      return "INVALID";
  }
}

}  // namespace runvm::vsock
