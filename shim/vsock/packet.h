// virtio-vsock packet header (struct virtio_vsock_hdr, 44 bytes, packed,
// little endian) and its parsing out of an untrusted tx chain.
#pragma once

#include <linux/virtio_vsock.h>

#include <array>
#include <cstdint>

#include "shim/virtio/virtqueue.h"
#include "spec/base/result.h"

namespace runvm::vsock {

inline constexpr size_t kHdrSize = 44;
inline constexpr uint64_t kHostCid = 2;
// Largest payload we accept from, or put into, one packet (Linux's own cap).
inline constexpr uint32_t kMaxPayload = 64 * 1024;

struct Header {
  uint64_t src_cid = 0;
  uint64_t dst_cid = 0;
  uint32_t src_port = 0;
  uint32_t dst_port = 0;
  uint32_t len = 0;
  uint16_t type = 0;
  uint16_t op = 0;
  uint32_t flags = 0;
  uint32_t buf_alloc = 0;
  uint32_t fwd_cnt = 0;

  bool operator==(const Header&) const = default;
};

using HeaderBytes = std::array<uint8_t, kHdrSize>;

HeaderBytes encode(const Header& h);
Header decode(const HeaderBytes& b);

// Reads the header from `r` (it may span descriptors) and validates `len`
// against the payload actually present after it and kMaxPayload; on success
// `r` is positioned at the payload.
Result<Header> read_header(ChainReader& r);

// The reply that refuses `to` (ports and cids swapped).
Header rst_for(const Header& to);

const char* op_name(uint16_t op);

}  // namespace runvm::vsock
