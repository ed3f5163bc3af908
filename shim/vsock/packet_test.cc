#include "shim/vsock/packet.h"

#include <gtest/gtest.h>

#include <cstring>

namespace runvm::vsock {
namespace {

Header sample() {
  Header h;
  h.src_cid = 3;
  h.dst_cid = 2;
  h.src_port = 0x11223344;
  h.dst_port = 1024;
  h.len = 5;
  h.type = VIRTIO_VSOCK_TYPE_STREAM;
  h.op = VIRTIO_VSOCK_OP_RW;
  h.flags = 0;
  h.buf_alloc = 0x40000;
  h.fwd_cnt = 77;
  return h;
}

TEST(VsockPacket, EncodeMatchesKernelLayout) {
  Header h = sample();
  auto b = encode(h);
  virtio_vsock_hdr k;
  std::memcpy(&k, b.data(), sizeof k);
  EXPECT_EQ(k.src_cid, 3u);  // little-endian host
  EXPECT_EQ(k.dst_cid, 2u);
  EXPECT_EQ(k.src_port, 0x11223344u);
  EXPECT_EQ(k.len, 5u);
  EXPECT_EQ(k.op, VIRTIO_VSOCK_OP_RW);
  EXPECT_EQ(k.buf_alloc, 0x40000u);
  EXPECT_EQ(k.fwd_cnt, 77u);
  EXPECT_EQ(b[0], 3);
  EXPECT_EQ(b[16], 0x44);  // src_port low byte first
  EXPECT_EQ(decode(b), h);
}

TEST(VsockPacket, HeaderSplitAcrossBuffers) {
  auto b = encode(sample());
  std::vector<uint8_t> a(b.begin(), b.begin() + 7), c(b.begin() + 7, b.end());
  c.insert(c.end(), {'h', 'e'});
  std::vector<uint8_t> d = {'l', 'l', 'o'};
  std::vector<std::span<uint8_t>> bufs = {a, c, d};
  ChainReader r(bufs);
  auto h = read_header(r);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(*h, sample());
  char payload[5];
  EXPECT_EQ(r.read(payload, 5), 5u);
  EXPECT_EQ(std::string(payload, 5), "hello");
}

TEST(VsockPacket, ShortHeaderRejected) {
  auto b = encode(sample());
  std::vector<uint8_t> a(b.begin(), b.begin() + 43);
  std::vector<std::span<uint8_t>> bufs = {a};
  ChainReader r(bufs);
  EXPECT_FALSE(read_header(r).ok());
  std::vector<std::span<uint8_t>> none;
  ChainReader r2(none);
  EXPECT_FALSE(read_header(r2).ok());
}

TEST(VsockPacket, LengthBeyondChainRejected) {
  auto b = encode(sample());  // len 5
  std::vector<uint8_t> a(b.begin(), b.end());
  a.insert(a.end(), {1, 2, 3, 4});  // only 4 payload bytes
  std::vector<std::span<uint8_t>> bufs = {a};
  ChainReader r(bufs);
  EXPECT_FALSE(read_header(r).ok());
}

TEST(VsockPacket, LengthOverCapRejected) {
  Header h = sample();
  h.len = kMaxPayload + 1;
  auto b = encode(h);
  std::vector<uint8_t> a(b.begin(), b.end());
  a.resize(a.size() + kMaxPayload + 1);
  std::vector<std::span<uint8_t>> bufs = {a};
  ChainReader r(bufs);
  EXPECT_FALSE(read_header(r).ok());
  h.len = 0xffffffff;
  b = encode(h);
  std::vector<uint8_t> z(b.begin(), b.end());
  std::vector<std::span<uint8_t>> zb = {z};
  ChainReader rz(zb);
  EXPECT_FALSE(read_header(rz).ok());
}

TEST(VsockPacket, RstForSwapsEnds) {
  Header h = sample();
  Header r = rst_for(h);
  EXPECT_EQ(r.src_cid, 2u);
  EXPECT_EQ(r.dst_cid, 3u);
  EXPECT_EQ(r.src_port, 1024u);
  EXPECT_EQ(r.dst_port, 0x11223344u);
  EXPECT_EQ(r.op, VIRTIO_VSOCK_OP_RST);
  EXPECT_EQ(r.len, 0u);
}

}  // namespace
}  // namespace runvm::vsock
