#include "shim/virtio/guest_memory.h"

#include <sys/mman.h>

namespace runvm {

namespace {
// True when [start, start+len) lies within [base, base+size), overflow-safe.
bool contains(uint64_t base, uint64_t size, uint64_t start, uint64_t len) {
  if (start < base) return false;
  uint64_t off = start - base;
  return off <= size && len <= size - off;
}
}  // namespace

Result<std::span<uint8_t>> GuestMemory::slice(uint64_t gpa, uint64_t len) const {
  for (const auto& r : regions_) {
    if (contains(r.gpa, r.size, gpa, len))
      return std::span<uint8_t>(r.host + (gpa - r.gpa), static_cast<size_t>(len));
  }
  return make_error("guest address out of range", EFAULT);
}

Result<uint64_t> GuestMemory::uva_to_gpa(uint64_t uva, uint64_t len) const {
  for (const auto& r : regions_) {
    if (contains(r.uva, r.size, uva, len)) return r.gpa + (uva - r.uva);
  }
  return make_error("front-end address out of range", EFAULT);
}

Status GuestMemory::read(uint64_t gpa, void* out, uint64_t len) const {
  auto s = RUNVM_TRY(slice(gpa, len));
  std::memcpy(out, s.data(), s.size());
  return {};
}

Status GuestMemory::write(uint64_t gpa, const void* in, uint64_t len) const {
  auto s = RUNVM_TRY(slice(gpa, len));
  std::memcpy(s.data(), in, s.size());
  return {};
}

Result<MappedGuestMemory> MappedGuestMemory::map(std::vector<FdRegion> regions) {
  MappedGuestMemory m;
  std::vector<MemoryRegion> views;
  for (auto& r : regions) {
    if (r.size == 0) return make_error("memory region of size 0", EINVAL);
    if (r.mmap_offset > UINT64_MAX - r.size || r.gpa > UINT64_MAX - r.size ||
        r.uva > UINT64_MAX - r.size)
      return make_error("memory region overflows", EINVAL);
    size_t len = static_cast<size_t>(r.mmap_offset + r.size);
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, r.fd.get(), 0);
    if (p == MAP_FAILED) return errno_error("mmap guest memory");
    m.maps_.push_back({p, len});
    views.push_back({r.gpa, r.size, r.uva, static_cast<uint8_t*>(p) + r.mmap_offset});
  }
  m.memory_ = GuestMemory(std::move(views));
  return m;
}

MappedGuestMemory::MappedGuestMemory(MappedGuestMemory&& o) noexcept
    : memory_(std::move(o.memory_)), maps_(std::move(o.maps_)) {
  o.maps_.clear();
  o.memory_ = GuestMemory();
}

MappedGuestMemory& MappedGuestMemory::operator=(MappedGuestMemory&& o) noexcept {
  if (this != &o) {
    unmap_all();
    memory_ = std::move(o.memory_);
    maps_ = std::move(o.maps_);
    o.maps_.clear();
    o.memory_ = GuestMemory();
  }
  return *this;
}

MappedGuestMemory::~MappedGuestMemory() { unmap_all(); }

void MappedGuestMemory::unmap_all() {
  for (auto& m : maps_) munmap(m.addr, m.len);
  maps_.clear();
}

}  // namespace runvm
