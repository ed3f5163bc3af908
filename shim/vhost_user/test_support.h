// Test fixtures shared by the vhost-user tests: a recording VirtioDevice and
// guest RAM in memfds with a minimal split-ring driver writing into it.
#pragma once

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <cstring>
#include <string>
#include <vector>

#include "shim/vhost_user/message.h"
#include "shim/virtio/device.h"

namespace runvm::vhost_user::testing {

// Records every call (unless told not to); on a kick, completes every
// available chain (used length = readable bytes) and notifies, like a
// trivial echo device.
class FakeDevice : public VirtioDevice {
 public:
  uint64_t device_features = (1ull << 32) | (1ull << vring::kIndirectDescFeature);
  std::vector<uint8_t> device_config = {3, 0, 0, 0, 0, 0, 0, 0};  // guest_cid = 3
  bool consume_on_kick = true;
  // Off in the fuzzer: building the strings is a good part of an input's cost.
  bool record_calls = true;
  std::vector<std::string> calls;
  std::vector<VirtQueue*> queues = std::vector<VirtQueue*>(2, nullptr);
  uint64_t acked = 0;

  uint64_t features() const override { return device_features; }
  size_t num_queues() const override { return queues.size(); }
  std::vector<uint8_t> config() const override { return device_config; }
  void set_features(uint64_t f) override {
    acked = f;
    if (record_calls) calls.push_back("features");
  }
  void queue_started(size_t idx, VirtQueue* q) override {
    queues[idx] = q;
    if (record_calls) calls.push_back("started " + std::to_string(idx));
  }
  void queue_stopped(size_t idx) override {
    queues[idx] = nullptr;
    if (record_calls) calls.push_back("stopped " + std::to_string(idx));
  }
  void queue_kicked(size_t idx) override {
    if (record_calls) calls.push_back("kicked " + std::to_string(idx));
    if (!consume_on_kick || !queues[idx]) return;
    DescChain chain;
    while (true) {
      auto r = queues[idx]->pop(chain);
      if (!r.ok() || !*r) break;
      (void)queues[idx]->push_used(chain.head, static_cast<uint32_t>(chain.readable_bytes()));
    }
    queues[idx]->notify();
  }
  size_t count(const std::string& call) const {
    size_t n = 0;
    for (auto& c : calls) n += c == call;
    return n;
  }
};

// Two memfd-backed RAM regions as QEMU would share them, plus a split ring
// per queue laid out in region 0 (queue i at gpa i * 0x4000).
class GuestRam {
 public:
  static constexpr uint64_t kRegionSize = 0x10000;
  static constexpr uint64_t kGpa[2] = {0, 0x100000};
  static constexpr uint64_t kUva[2] = {0x7f0000000000, 0x7f0000200000};
  static constexpr uint16_t kQueueSize = 8;

  GuestRam() {
    for (int i = 0; i < 2; ++i) {
      fd_[i].reset(memfd_create("guest-ram", MFD_CLOEXEC));
      if (ftruncate(fd_[i].get(), kRegionSize) != 0) abort();
      void* p = mmap(nullptr, kRegionSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd_[i].get(), 0);
      if (p == MAP_FAILED) abort();
      host_[i] = static_cast<uint8_t*>(p);
    }
  }
  ~GuestRam() {
    for (auto* h : host_) munmap(h, kRegionSize);
  }

  int region_fd(int i) const { return fd_[i].get(); }
  // SET_MEM_TABLE payload with fresh dups of the region fds.
  MemTable table() const {
    MemTable t;
    for (int i = 0; i < 2; ++i)
      t.regions.push_back(
          {kGpa[i], kRegionSize, kUva[i], 0, UniqueFd(fcntl(fd_[i].get(), F_DUPFD_CLOEXEC, 0))});
    return t;
  }

  static uint64_t desc_gpa(uint32_t q) { return q * 0x4000; }
  static uint64_t avail_gpa(uint32_t q) { return q * 0x4000 + 0x1000; }
  static uint64_t used_gpa(uint32_t q) { return q * 0x4000 + 0x2000; }
  static VringAddr addr(uint32_t q) {
    return VringAddr{q, 0, kUva[0] + desc_gpa(q), kUva[0] + used_gpa(q), kUva[0] + avail_gpa(q), 0};
  }

  // Driver side: posts a one-descriptor chain (buffer in region 1).
  void post(uint32_t q, uint16_t head, uint32_t len) {
    vring::Desc d{kGpa[1] + head * 0x100u, len, 0, 0};
    std::memcpy(host_[0] + desc_gpa(q) + 16 * head, &d, sizeof d);
    auto* avail = reinterpret_cast<vring::Avail*>(host_[0] + avail_gpa(q));
    avail->ring[avail->idx % kQueueSize] = head;
    __atomic_store_n(&avail->idx, static_cast<uint16_t>(avail->idx + 1), __ATOMIC_RELEASE);
  }
  uint16_t used_idx(uint32_t q) const {
    auto* used = reinterpret_cast<vring::Used*>(host_[0] + used_gpa(q));
    return __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE);
  }
  vring::UsedElem used_elem(uint32_t q, uint16_t i) const {
    auto* used = reinterpret_cast<vring::Used*>(host_[0] + used_gpa(q));
    return used->ring[i % kQueueSize];
  }

 private:
  UniqueFd fd_[2];
  uint8_t* host_[2] = {};
};

inline UniqueFd make_eventfd() { return UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)); }
inline UniqueFd dup_fd(int fd) { return UniqueFd(fcntl(fd, F_DUPFD_CLOEXEC, 0)); }
inline void signal(int efd) {
  uint64_t one = 1;
  if (write(efd, &one, sizeof one) != sizeof one) abort();
}
// Reads and resets an eventfd's counter; 0 if it was not signalled.
inline uint64_t drain(int efd) {
  uint64_t v = 0;
  if (read(efd, &v, sizeof v) != sizeof v) return 0;
  return v;
}

}  // namespace runvm::vhost_user::testing
