// Split virtqueue (virtio 1.x, section 2.7), device side. Every index and
// length read from the rings is untrusted: chains are bounded, loops and
// out-of-range indices are errors, and buffers are resolved through
// GuestMemory. A queue in error should be treated as broken by its device.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "shim/virtio/guest_memory.h"

namespace runvm {

// Split-ring layout (virtio 1.x 2.7). Our own definitions: the UAPI
// <linux/virtio_ring.h> has inline helpers that are not valid C++.
namespace vring {
inline constexpr uint16_t kDescNext = 1;
inline constexpr uint16_t kDescWrite = 2;
inline constexpr uint16_t kDescIndirect = 4;
inline constexpr uint16_t kAvailNoInterrupt = 1;
inline constexpr int kEventIdxFeature = 29;  // VIRTIO_RING_F_EVENT_IDX
inline constexpr int kIndirectDescFeature = 28;

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
struct Avail {
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[];  // size entries, then used_event
};
struct UsedElem {
  uint32_t id;
  uint32_t len;
};
struct Used {
  uint16_t flags;
  uint16_t idx;
  UsedElem ring[];  // size entries, then avail_event
};
static_assert(sizeof(Desc) == 16 && sizeof(UsedElem) == 8);

// The driver wants an interrupt if event_idx lies in (old_idx, new_idx].
inline bool need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx) {
  return static_cast<uint16_t>(new_idx - event_idx - 1) < static_cast<uint16_t>(new_idx - old_idx);
}
}  // namespace vring

// One popped descriptor chain: device-readable buffers first, then
// device-writable ones (the spec's required order; we enforce it).
struct DescChain {
  uint16_t head = 0;
  std::vector<std::span<uint8_t>> readable;
  std::vector<std::span<uint8_t>> writable;

  uint64_t readable_bytes() const;
  uint64_t writable_bytes() const;
  void clear() {
    readable.clear();
    writable.clear();
  }
};

// Copies out of a list of buffers as if it were one stream.
class ChainReader {
 public:
  explicit ChainReader(const std::vector<std::span<uint8_t>>& bufs) : bufs_(bufs) {}
  size_t read(void* out, size_t n);  // returns bytes copied (short at end)
  size_t skip(size_t n);
  size_t remaining() const;
  // Up to `max` bytes of the next contiguous piece, consumed.
  std::span<const uint8_t> next_piece(size_t max);

 private:
  const std::vector<std::span<uint8_t>>& bufs_;
  size_t idx_ = 0, off_ = 0;
};

// Copies into a list of buffers as if it were one stream.
class ChainWriter {
 public:
  explicit ChainWriter(const std::vector<std::span<uint8_t>>& bufs) : bufs_(bufs) {}
  size_t write(const void* in, size_t n);  // returns bytes copied (short at end)
  size_t written() const { return written_; }
  size_t remaining() const;
  // Up to `max` bytes of the next contiguous writable piece, consumed; the
  // caller must fill all of it (e.g. with read(2)) or call unwrite().
  std::span<uint8_t> next_piece(size_t max);
  void unwrite(size_t n);  // gives back the tail of the last piece

 private:
  const std::vector<std::span<uint8_t>>& bufs_;
  size_t idx_ = 0, off_ = 0, written_ = 0;
};

class VirtQueue {
 public:
  static constexpr uint16_t kMaxSize = 32768;

  struct Config {
    uint16_t size = 0;
    uint64_t desc_gpa = 0, avail_gpa = 0, used_gpa = 0;
    uint16_t next_avail = 0;  // vhost-user SET_VRING_BASE
    bool event_idx = false;   // VIRTIO_RING_F_EVENT_IDX negotiated
  };

  // Validates size and ring placement against `mem` (which must outlive the queue).
  static Result<VirtQueue> create(const GuestMemory& mem, const Config& cfg);

  uint16_t size() const { return size_; }
  uint16_t next_avail() const { return next_avail_; }

  // Pops the next available chain into `chain`. false: nothing available.
  // An error means the driver wrote a malformed ring or chain.
  Result<bool> pop(DescChain& chain);
  // Returns the last popped chain to the avail ring (e.g. no data to put in it).
  void undo_pop() { --next_avail_; }
  // Publishes a used element and records that the driver may need a notification.
  Status push_used(uint16_t head, uint32_t len);

  // Eventfd to signal the driver (vhost-user "call"); not owned; -1 for none.
  void set_call_fd(int fd) { call_fd_ = fd; }
  // Signals the driver if anything was used since the last call and the
  // driver asked to be told (used_event / NO_INTERRUPT). Returns whether the
  // driver asked to be told of this batch (an interrupt it then gets).
  bool notify();

  // With EVENT_IDX, asks for a kick on the next avail entry. Returns true if
  // entries arrived meanwhile (the caller should keep processing).
  bool enable_kicks();

 private:
  VirtQueue() = default;
  uint16_t avail_idx() const;

  const GuestMemory* mem_ = nullptr;
  uint16_t size_ = 0;
  vring::Desc* desc_ = nullptr;
  vring::Avail* avail_ = nullptr;
  vring::Used* used_ = nullptr;
  uint16_t next_avail_ = 0;
  uint16_t next_used_ = 0;
  uint16_t signalled_used_ = 0;  // used idx at our last notification
  bool event_idx_ = false;
  bool pending_notify_ = false;
  int call_fd_ = -1;
};

}  // namespace runvm
