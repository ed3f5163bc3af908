// Test-only vsock guest driver: rx and tx rings in fake guest memory
// (shim/virtio/fake_ring_test_util.h), posting rx buffers, sending packets,
// and collecting what the device put on the rx queue. Each ring uses its
// descriptor index as the buffer slot, which works because both queues are
// consumed in order and we never have more than `size` descriptors out.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shim/virtio/device.h"
#include "shim/virtio/fake_ring_test_util.h"
#include "shim/vsock/packet.h"

namespace runvm::testing {

struct VsockPacket {
  vsock::Header hdr;
  std::string payload;
};

class FakeVsockGuest {
 public:
  static constexpr uint16_t kRingSize = 64;

  // Guest memory the rings and buffers take.
  static size_t ram_bytes(uint32_t rx_buf_size, uint32_t tx_buf_size) {
    return kRingSize * (size_t{rx_buf_size} + tx_buf_size) + (1 << 16);
  }

  // tx descriptors hold at most `tx_buf_size` bytes each. Guest memory is
  // `ram` if given (at least ram_bytes(), owned by the caller: a fuzzer's,
  // reused for every input), else allocated here.
  explicit FakeVsockGuest(VirtioDevice& dev, uint32_t rx_buf_size = 4096,
                          uint32_t tx_buf_size = vsock::kHdrSize + vsock::kMaxPayload,
                          bool event_idx = true, std::span<uint8_t> ram = {})
      : dev_(dev),
        guest_(ram.empty() ? FakeGuest(ram_bytes(rx_buf_size, tx_buf_size))
                           : FakeGuest(lent(ram, ram_bytes(rx_buf_size, tx_buf_size)))),
        rx_(guest_, kRingSize),
        tx_(guest_, kRingSize),
        rx_buf_size_(rx_buf_size),
        tx_buf_size_(tx_buf_size) {
    rx_slots_ = guest_.alloc(size_t{kRingSize} * rx_buf_size, 16);
    tx_slots_ = guest_.alloc(size_t{kRingSize} * tx_buf_size, 16);
    rxq_.emplace(VirtQueue::create(guest_.mem(), rx_.config(event_idx)).value());
    txq_.emplace(VirtQueue::create(guest_.mem(), tx_.config(event_idx)).value());
  }
  ~FakeVsockGuest() { stop(); }

  void start() {
    dev_.queue_started(0, &*rxq_);
    dev_.queue_started(1, &*txq_);
  }
  void stop() {
    dev_.queue_stopped(0);
    dev_.queue_stopped(1);
  }

  // Makes up to `n` rx buffers available (bounded by free descriptors) and kicks.
  void post_rx(size_t n, bool kick = true) {
    for (size_t i = 0; i < n && rx_out_ < kRingSize; ++i, ++rx_out_) {
      uint16_t d = rx_next_desc_++ % kRingSize;
      rx_.add({{rx_slots_ + uint64_t{d} * rx_buf_size_, rx_buf_size_, true}});
    }
    if (kick) dev_.queue_kicked(0);
  }
  size_t rx_outstanding() const { return rx_out_; }

  // Packets the device completed on rx since the last call.
  std::vector<VsockPacket> take_rx() {
    std::vector<VsockPacket> out;
    while (rx_seen_ != rx_.used_idx()) {
      auto e = rx_.used_elem(rx_seen_++);
      --rx_out_;
      const uint8_t* p = guest_.host(rx_slots_ + uint64_t{e.id} * rx_buf_size_);
      if (e.len < vsock::kHdrSize || e.len > rx_buf_size_) {
        bad_rx_ = true;
        continue;
      }
      vsock::HeaderBytes hb;
      std::memcpy(hb.data(), p, hb.size());
      VsockPacket pkt{
          vsock::decode(hb),
          std::string(reinterpret_cast<const char*>(p) + vsock::kHdrSize, e.len - vsock::kHdrSize)};
      if (pkt.hdr.len != pkt.payload.size()) bad_rx_ = true;
      out.push_back(std::move(pkt));
    }
    return out;
  }
  bool bad_rx() const { return bad_rx_; }

  // Sends one packet as a tx chain; `split_at` > 0 splits the bytes into two
  // descriptors there (e.g. inside the header). Kicks unless told not to.
  bool send(const vsock::Header& h, std::string_view payload = {}, size_t split_at = 0,
            bool kick = true) {
    auto hb = vsock::encode(h);
    std::string bytes(reinterpret_cast<const char*>(hb.data()), hb.size());
    bytes.append(payload);
    return send_raw(bytes, split_at, kick);
  }
  // false: no free tx descriptors (the device has not consumed earlier chains).
  bool send_raw(std::string_view bytes, size_t split_at = 0, bool kick = true) {
    reap_tx();
    std::vector<FakeDriverRing::Buf> bufs;
    std::vector<std::string_view> parts;
    if (split_at > 0 && split_at < bytes.size())
      parts = {bytes.substr(0, split_at), bytes.substr(split_at)};
    else
      parts = {bytes};
    if (tx_out_ + parts.size() > kRingSize) return false;
    for (auto part : parts) {
      uint16_t d = tx_next_desc_++ % kRingSize;
      uint64_t gpa = tx_slots_ + uint64_t{d} * tx_buf_size_;
      size_t n = std::min<size_t>(part.size(), tx_buf_size_);
      std::memcpy(guest_.host(gpa), part.data(), n);
      bufs.push_back({gpa, static_cast<uint32_t>(n), false});
      ++tx_out_;
    }
    tx_.add(bufs);
    tx_chain_descs_.push_back(bufs.size());
    if (kick) dev_.queue_kicked(1);
    return true;
  }
  // Frees tx descriptors of chains the device completed (in order); returns
  // how many chains are still pending.
  size_t reap_tx() {
    while (tx_seen_ != tx_.used_idx()) {
      ++tx_seen_;
      tx_out_ -= tx_chain_descs_.front();
      tx_chain_descs_.pop_front();
    }
    return tx_chain_descs_.size();
  }

  vsock::Header hdr(uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t len = 0) const {
    vsock::Header h;
    h.src_cid = cid;
    h.dst_cid = vsock::kHostCid;
    h.src_port = src_port;
    h.dst_port = dst_port;
    h.len = len;
    h.type = VIRTIO_VSOCK_TYPE_STREAM;
    h.op = op;
    h.buf_alloc = buf_alloc;
    h.fwd_cnt = fwd_cnt;
    return h;
  }

  uint64_t cid = 3;
  uint32_t buf_alloc = 256 * 1024;  // what this fake guest advertises
  uint32_t fwd_cnt = 0;

 private:
  static std::span<uint8_t> lent(std::span<uint8_t> ram, size_t need) {
    if (ram.size() < need) std::abort();  // a test's mistake
    return ram.first(need);
  }

  VirtioDevice& dev_;
  FakeGuest guest_;
  FakeDriverRing rx_, tx_;
  uint32_t rx_buf_size_, tx_buf_size_;
  uint64_t rx_slots_ = 0, tx_slots_ = 0;
  std::optional<VirtQueue> rxq_, txq_;
  uint16_t rx_next_desc_ = 0, tx_next_desc_ = 0;
  uint16_t rx_seen_ = 0, tx_seen_ = 0;
  size_t rx_out_ = 0, tx_out_ = 0;
  std::deque<size_t> tx_chain_descs_;
  bool bad_rx_ = false;
};

}  // namespace runvm::testing
