// Test-only driver side of a split virtqueue over fake guest memory (a
// std::vector, or memory the caller lends, registered as one region), for
// device and queue unit tests and fuzzers.
#pragma once

#include <cstring>
#include <span>
#include <vector>

#include "shim/virtio/guest_memory.h"
#include "shim/virtio/virtqueue.h"

namespace runvm::testing {

class FakeGuest {
 public:
  explicit FakeGuest(size_t bytes = 1 << 20, uint64_t base = 0x10000)
      : own_(bytes), ram_(own_), mem_(region(base)) {}
  // Over `ram`, which the caller owns and which must outlive this guest,
  // zeroed here as fresh memory would be. A fuzzer reuses one buffer for
  // every input: fresh pages (a fault each, then the unmap) cost more than
  // the code under test.
  explicit FakeGuest(std::span<uint8_t> ram, uint64_t base = 0x10000)
      : ram_(ram), mem_(region(base)) {
    std::memset(ram_.data(), 0, ram_.size());
  }
  FakeGuest(const FakeGuest&) = delete;
  FakeGuest& operator=(const FakeGuest&) = delete;
  const GuestMemory& mem() const { return mem_; }
  uint64_t base() const { return mem_.regions()[0].gpa; }
  uint8_t* host(uint64_t gpa) { return ram_.data() + (gpa - base()); }
  // Bump allocator for buffers in guest memory.
  uint64_t alloc(size_t n, size_t align = 16) {
    next_ = (next_ + align - 1) & ~(align - 1);
    uint64_t gpa = base() + next_;
    next_ += n;
    return gpa;
  }

 private:
  GuestMemory region(uint64_t base) {
    return GuestMemory({MemoryRegion{base, ram_.size(), 0x7f0000000000 + base, ram_.data()}});
  }

  std::vector<uint8_t> own_;  // empty when the memory is lent
  std::span<uint8_t> ram_;
  GuestMemory mem_;
  size_t next_ = 0;
};

// Lays out a ring of `size` entries in a FakeGuest and plays the driver.
class FakeDriverRing {
 public:
  FakeDriverRing(FakeGuest& g, uint16_t size) : g_(g), size_(size) {
    desc_ = g.alloc(16 * size, 16);
    avail_ = g.alloc(6 + 2 * size, 2);
    used_ = g.alloc(6 + 8 * size, 4);
  }
  VirtQueue::Config config(bool event_idx = false) const {
    return {size_, desc_, avail_, used_, 0, event_idx};
  }
  vring::Desc* desc(uint16_t i) { return reinterpret_cast<vring::Desc*>(g_.host(desc_)) + i; }
  vring::Avail* avail() { return reinterpret_cast<vring::Avail*>(g_.host(avail_)); }
  vring::Used* used() { return reinterpret_cast<vring::Used*>(g_.host(used_)); }

  struct Buf {
    uint64_t gpa;
    uint32_t len;
    bool writable;
  };
  // Writes a chain at free descriptors and publishes it; returns its head.
  uint16_t add(const std::vector<Buf>& bufs) {
    uint16_t head = next_desc_;
    for (size_t i = 0; i < bufs.size(); ++i) {
      uint16_t d = next_desc_++ % size_;
      desc(d)->addr = bufs[i].gpa;
      desc(d)->len = bufs[i].len;
      desc(d)->flags =
          (bufs[i].writable ? vring::kDescWrite : 0) | (i + 1 < bufs.size() ? vring::kDescNext : 0);
      desc(d)->next = next_desc_ % size_;
    }
    head %= size_;
    publish(head);
    return head;
  }
  void publish(uint16_t head) {
    avail()->ring[avail()->idx % size_] = head;
    __atomic_store_n(&avail()->idx, static_cast<uint16_t>(avail()->idx + 1), __ATOMIC_RELEASE);
  }
  uint16_t used_idx() { return __atomic_load_n(&used()->idx, __ATOMIC_ACQUIRE); }
  vring::UsedElem used_elem(uint16_t i) { return used()->ring[i % size_]; }

 private:
  FakeGuest& g_;
  uint16_t size_;
  uint64_t desc_, avail_, used_;
  uint16_t next_desc_ = 0;
};

}  // namespace runvm::testing
