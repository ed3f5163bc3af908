// FUSE request accounting: per opcode, how many requests the backend served
// and how long it took to serve them (from parsed request to finished reply,
// the backend's own share of a round trip). Recording is a few relaxed atomic
// adds, so it stays on for every device; a reader on another thread (the
// shim's teardown, a benchmark) takes a snapshot while requests go on.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace runvm::fuse {

// "LOOKUP", "GETATTR", ...; "OP<n>" for one we have no name for.
std::string opcode_name(uint32_t opcode);

class Stats {
 public:
  // Opcodes below kSlots get their own slot; larger ones share kOtherSlot.
  static constexpr uint32_t kSlots = 64;
  static constexpr uint32_t kOtherSlot = 0;  // FUSE has no opcode 0

  struct Entry {
    uint32_t opcode = 0;  // kOtherSlot: any opcode >= kSlots
    uint64_t count = 0, errors = 0, total_ns = 0, max_ns = 0;
  };

  // One request served in `ns`; `failed`: answered with an error (for
  // LOOKUP mostly ENOENT: misses the guest could not cache).
  void record(uint32_t opcode, uint64_t ns, bool failed = false);
  // GETXATTR of "security.capability": the kernel asks it before every write
  // and chown unless told not to, so it is counted on its own as well.
  void record_capability_query() { cap_queries_.fetch_add(1, std::memory_order_relaxed); }

  // What a SETATTR set (fuse_setattr_in.valid), by kind: one request may set
  // several. The guest sends one per chmod, chown, utimes and truncate call,
  // so this tells which of the workload's calls its SETATTRs are.
  struct SetattrKinds {
    uint64_t mode = 0, owner = 0, size = 0, times = 0;
  };
  void record_setattr(uint32_t valid);
  SetattrKinds setattr_kinds() const;

  // What a LOOKUP found, seen from the guest's side: a miss; a miss of a
  // name it was answered missing less than an entry timeout ago (it held
  // that negative entry and asked anyway: the kernel revalidates negative
  // entries for every exclusive create, mkdir, symlink and rename target);
  // an inode the guest already held, last named to it less (a forced
  // revalidation, as before an exclusive create) or more (its entry had
  // expired) than an entry timeout ago; an inode new to the guest. Tells
  // which of a workload's LOOKUPs a longer timeout would save.
  enum class Lookup { kMiss, kMissAgain, kHeldRecent, kHeldExpired, kNew };
  struct LookupKinds {
    uint64_t miss = 0, miss_again = 0, held_recent = 0, held_expired = 0, fresh = 0;
  };
  void record_lookup(Lookup kind);
  LookupKinds lookup_kinds() const;

  // Opcodes seen, most requests first (ties: lower opcode first).
  std::vector<Entry> snapshot() const;
  uint64_t total_requests() const;
  uint64_t capability_queries() const { return cap_queries_.load(std::memory_order_relaxed); }
  // One line per opcode ("fuse GETATTR count=.. errors=.. total_ms=.. avg_us=..
  // max_us=..")
  // plus totals, the SETATTR kinds ("fuse-setattr mode=.. owner=.. size=..
  // times=..") and the LOOKUP kinds ("fuse-lookup miss=.. miss_again=..
  // held_recent=.. held_expired=.. new=.."), for a log or a stats file.
  std::string format() const;

 private:
  struct Slot {
    std::atomic<uint64_t> count{0}, errors{0}, total_ns{0}, max_ns{0};
  };
  std::array<Slot, kSlots> slots_;
  std::atomic<uint64_t> cap_queries_{0};
  std::atomic<uint64_t> setattr_mode_{0}, setattr_owner_{0}, setattr_size_{0}, setattr_times_{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Lookup::kNew) + 1> lookups_{};
};

// Transport accounting of FsDevice's request queue: where a request spends
// the rest of its round trip. busy is the time spent serving batches (kick
// drained to notification), gap the time from one batch's notification to
// the start of the next, in which the reply reaches the guest (QEMU, the
// interrupt, the guest's completion work) and the guest makes and kicks its
// next request. A gap longer than kIdleGapNs is the guest doing something
// else (booting, a workload between its file operations) and is counted as
// idle instead. Written by the device's loop thread; read from any thread.
class QueueStats {
 public:
  static constexpr uint64_t kIdleGapNs = 100'000'000;

  struct Snapshot {
    uint64_t kicks = 0, batches = 0, requests = 0, max_batch = 0, interrupts = 0;
    uint64_t busy_ns = 0, gap_ns = 0, gaps = 0, idle_gaps = 0;
  };

  void record_kick() { kicks_.fetch_add(1, std::memory_order_relaxed); }
  // One batch of `requests` (> 0) served from start_ns to end_ns
  // (steady clock); `interrupted`: the driver was signalled after it.
  void record_batch(uint64_t requests, uint64_t start_ns, uint64_t end_ns, bool interrupted);
  Snapshot snapshot() const;
  // "fuse-queue kicks=.. batches=.. requests=.. max_batch=.. interrupts=..
  // busy_ms=.. gap_ms=.. gaps=.. avg_gap_us=.. idle_gaps=.."
  std::string format() const;

 private:
  std::atomic<uint64_t> kicks_{0}, batches_{0}, requests_{0}, max_batch_{0}, interrupts_{0};
  std::atomic<uint64_t> busy_ns_{0}, gap_ns_{0}, gaps_{0}, idle_gaps_{0};
  uint64_t last_end_ns_ = 0;  // loop thread only
};

// True if a GETXATTR request's arguments name security.capability.
bool is_capability_getxattr(std::string_view args_after_getxattr_in);

}  // namespace runvm::fuse
