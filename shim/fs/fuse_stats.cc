#include "shim/fs/fuse_stats.h"

#include <linux/fuse.h>

#include <algorithm>
#include <cstdio>

namespace runvm::fuse {

std::string opcode_name(uint32_t op) {
  switch (op) {
    case FUSE_LOOKUP:
      return "LOOKUP";
    case FUSE_FORGET:
      return "FORGET";
    case FUSE_GETATTR:
      return "GETATTR";
    case FUSE_SETATTR:
      return "SETATTR";
    case FUSE_READLINK:
      return "READLINK";
    case FUSE_SYMLINK:
      return "SYMLINK";
    case FUSE_MKNOD:
      return "MKNOD";
    case FUSE_MKDIR:
      return "MKDIR";
    case FUSE_UNLINK:
      return "UNLINK";
    case FUSE_RMDIR:
      return "RMDIR";
    case FUSE_RENAME:
      return "RENAME";
    case FUSE_LINK:
      return "LINK";
    case FUSE_OPEN:
      return "OPEN";
    case FUSE_READ:
      return "READ";
    case FUSE_WRITE:
      return "WRITE";
    case FUSE_STATFS:
      return "STATFS";
    case FUSE_RELEASE:
      return "RELEASE";
    case FUSE_FSYNC:
      return "FSYNC";
    case FUSE_SETXATTR:
      return "SETXATTR";
    case FUSE_GETXATTR:
      return "GETXATTR";
    case FUSE_LISTXATTR:
      return "LISTXATTR";
    case FUSE_REMOVEXATTR:
      return "REMOVEXATTR";
    case FUSE_FLUSH:
      return "FLUSH";
    case FUSE_INIT:
      return "INIT";
    case FUSE_OPENDIR:
      return "OPENDIR";
    case FUSE_READDIR:
      return "READDIR";
    case FUSE_RELEASEDIR:
      return "RELEASEDIR";
    case FUSE_FSYNCDIR:
      return "FSYNCDIR";
    case FUSE_GETLK:
      return "GETLK";
    case FUSE_SETLK:
      return "SETLK";
    case FUSE_SETLKW:
      return "SETLKW";
    case FUSE_ACCESS:
      return "ACCESS";
    case FUSE_CREATE:
      return "CREATE";
    case FUSE_INTERRUPT:
      return "INTERRUPT";
    case FUSE_BMAP:
      return "BMAP";
    case FUSE_DESTROY:
      return "DESTROY";
    case FUSE_IOCTL:
      return "IOCTL";
    case FUSE_POLL:
      return "POLL";
    case FUSE_NOTIFY_REPLY:
      return "NOTIFY_REPLY";
    case FUSE_BATCH_FORGET:
      return "BATCH_FORGET";
    case FUSE_FALLOCATE:
      return "FALLOCATE";
    case FUSE_READDIRPLUS:
      return "READDIRPLUS";
    case FUSE_RENAME2:
      return "RENAME2";
    case FUSE_LSEEK:
      return "LSEEK";
    case FUSE_COPY_FILE_RANGE:
      return "COPY_FILE_RANGE";
    case FUSE_SETUPMAPPING:
      return "SETUPMAPPING";
    case FUSE_REMOVEMAPPING:
      return "REMOVEMAPPING";
    case FUSE_SYNCFS:
      return "SYNCFS";
    case FUSE_TMPFILE:
      return "TMPFILE";
    default:
      return "OP" + std::to_string(op);
  }
}

void Stats::record(uint32_t opcode, uint64_t ns, bool failed) {
  Slot& s = slots_[opcode < kSlots ? opcode : kOtherSlot];
  s.count.fetch_add(1, std::memory_order_relaxed);
  if (failed) s.errors.fetch_add(1, std::memory_order_relaxed);
  s.total_ns.fetch_add(ns, std::memory_order_relaxed);
  uint64_t max = s.max_ns.load(std::memory_order_relaxed);
  // Only a new maximum pays for the compare-exchange.
  while (ns > max && !s.max_ns.compare_exchange_weak(max, ns, std::memory_order_relaxed)) {
  }
}

void Stats::record_setattr(uint32_t valid) {
  auto bump = [](std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); };
  if (valid & FATTR_MODE) bump(setattr_mode_);
  if (valid & (FATTR_UID | FATTR_GID)) bump(setattr_owner_);
  if (valid & FATTR_SIZE) bump(setattr_size_);
  if (valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)) bump(setattr_times_);
}

void Stats::record_lookup(Lookup kind) {
  lookups_[static_cast<size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
}

Stats::LookupKinds Stats::lookup_kinds() const {
  auto at = [&](Lookup k) {
    return lookups_[static_cast<size_t>(k)].load(std::memory_order_relaxed);
  };
  return {at(Lookup::kMiss), at(Lookup::kMissAgain), at(Lookup::kHeldRecent),
          at(Lookup::kHeldExpired), at(Lookup::kNew)};
}

Stats::SetattrKinds Stats::setattr_kinds() const {
  return {setattr_mode_.load(std::memory_order_relaxed),
          setattr_owner_.load(std::memory_order_relaxed),
          setattr_size_.load(std::memory_order_relaxed),
          setattr_times_.load(std::memory_order_relaxed)};
}

std::vector<Stats::Entry> Stats::snapshot() const {
  std::vector<Entry> out;
  for (uint32_t op = 0; op < kSlots; ++op) {
    const Slot& s = slots_[op];
    Entry e{op, s.count.load(std::memory_order_relaxed), s.errors.load(std::memory_order_relaxed),
            s.total_ns.load(std::memory_order_relaxed), s.max_ns.load(std::memory_order_relaxed)};
    if (e.count) out.push_back(e);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Entry& a, const Entry& b) { return a.count > b.count; });
  return out;
}

uint64_t Stats::total_requests() const {
  uint64_t n = 0;
  for (const Slot& s : slots_) n += s.count.load(std::memory_order_relaxed);
  return n;
}

std::string Stats::format() const {
  std::string out;
  char line[160];
  uint64_t total = 0, total_ns = 0;
  for (const Entry& e : snapshot()) {
    total += e.count;
    total_ns += e.total_ns;
    const std::string name = e.opcode == kOtherSlot ? "OTHER" : opcode_name(e.opcode);
    std::snprintf(line, sizeof line,
                  "fuse %s count=%llu errors=%llu total_ms=%.1f avg_us=%.1f max_us=%.1f\n",
                  name.c_str(), static_cast<unsigned long long>(e.count),
                  static_cast<unsigned long long>(e.errors), e.total_ns / 1e6,
                  e.total_ns / 1e3 / static_cast<double>(e.count), e.max_ns / 1e3);
    out += line;
  }
  std::snprintf(line, sizeof line,
                "fuse TOTAL count=%llu total_ms=%.1f getxattr_security_capability=%llu\n",
                static_cast<unsigned long long>(total), total_ns / 1e6,
                static_cast<unsigned long long>(capability_queries()));
  out += line;
  const SetattrKinds k = setattr_kinds();
  std::snprintf(line, sizeof line, "fuse-setattr mode=%llu owner=%llu size=%llu times=%llu\n",
                static_cast<unsigned long long>(k.mode), static_cast<unsigned long long>(k.owner),
                static_cast<unsigned long long>(k.size), static_cast<unsigned long long>(k.times));
  out += line;
  const LookupKinds l = lookup_kinds();
  std::snprintf(
      line, sizeof line,
      "fuse-lookup miss=%llu miss_again=%llu held_recent=%llu held_expired=%llu new=%llu\n",
      static_cast<unsigned long long>(l.miss), static_cast<unsigned long long>(l.miss_again),
      static_cast<unsigned long long>(l.held_recent),
      static_cast<unsigned long long>(l.held_expired), static_cast<unsigned long long>(l.fresh));
  out += line;
  return out;
}

void QueueStats::record_batch(uint64_t requests, uint64_t start_ns, uint64_t end_ns,
                              bool interrupted) {
  constexpr auto r = std::memory_order_relaxed;
  batches_.fetch_add(1, r);
  requests_.fetch_add(requests, r);
  if (requests > max_batch_.load(r)) max_batch_.store(requests, r);
  if (interrupted) interrupts_.fetch_add(1, r);
  if (end_ns > start_ns) busy_ns_.fetch_add(end_ns - start_ns, r);
  if (last_end_ns_ != 0 && start_ns > last_end_ns_) {
    const uint64_t gap = start_ns - last_end_ns_;
    if (gap > kIdleGapNs) {
      idle_gaps_.fetch_add(1, r);
    } else {
      gap_ns_.fetch_add(gap, r);
      gaps_.fetch_add(1, r);
    }
  }
  last_end_ns_ = end_ns;
}

QueueStats::Snapshot QueueStats::snapshot() const {
  constexpr auto r = std::memory_order_relaxed;
  return {kicks_.load(r),     batches_.load(r),    requests_.load(r),
          max_batch_.load(r), interrupts_.load(r), busy_ns_.load(r),
          gap_ns_.load(r),    gaps_.load(r),       idle_gaps_.load(r)};
}

std::string QueueStats::format() const {
  const Snapshot s = snapshot();
  char line[256];
  std::snprintf(
      line, sizeof line,
      "fuse-queue kicks=%llu batches=%llu requests=%llu max_batch=%llu interrupts=%llu "
      "busy_ms=%.1f gap_ms=%.1f gaps=%llu avg_gap_us=%.1f idle_gaps=%llu\n",
      static_cast<unsigned long long>(s.kicks), static_cast<unsigned long long>(s.batches),
      static_cast<unsigned long long>(s.requests), static_cast<unsigned long long>(s.max_batch),
      static_cast<unsigned long long>(s.interrupts), s.busy_ns / 1e6, s.gap_ns / 1e6,
      static_cast<unsigned long long>(s.gaps),
      s.gaps ? s.gap_ns / 1e3 / static_cast<double>(s.gaps) : 0.0,
      static_cast<unsigned long long>(s.idle_gaps));
  return line;
}

bool is_capability_getxattr(std::string_view args) {
  constexpr std::string_view kName{"security.capability\0", 20};
  return args.substr(0, kName.size()) == kName;
}

}  // namespace runvm::fuse
