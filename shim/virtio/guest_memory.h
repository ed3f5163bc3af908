// The one accessor for guest memory. Every guest-physical address and length
// that reaches the backends comes from the guest and is checked here: a range
// must lie wholly inside one region, with overflow-safe arithmetic.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm {

struct MemoryRegion {
  uint64_t gpa = 0;  // guest-physical start
  uint64_t size = 0;
  uint64_t uva = 0;         // the front-end's (QEMU's) virtual address of the same memory
  uint8_t* host = nullptr;  // our mapping of it
};

class GuestMemory {
 public:
  GuestMemory() = default;
  explicit GuestMemory(std::vector<MemoryRegion> regions) : regions_(std::move(regions)) {}

  const std::vector<MemoryRegion>& regions() const { return regions_; }

  // Host view of [gpa, gpa+len); error unless wholly inside one region.
  Result<std::span<uint8_t>> slice(uint64_t gpa, uint64_t len) const;
  // Front-end virtual address (vring addresses in vhost-user) to gpa.
  Result<uint64_t> uva_to_gpa(uint64_t uva, uint64_t len) const;

  Status read(uint64_t gpa, void* out, uint64_t len) const;
  Status write(uint64_t gpa, const void* in, uint64_t len) const;

  template <class T>
  Result<T> read_obj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    RUNVM_CHECK(read(gpa, &v, sizeof v));
    return v;
  }

 private:
  std::vector<MemoryRegion> regions_;
};

// Guest memory shared by the front-end as fds (vhost-user SET_MEM_TABLE):
// owns the mmaps and unmaps them on destruction.
class MappedGuestMemory {
 public:
  struct FdRegion {
    uint64_t gpa, size, uva, mmap_offset;
    UniqueFd fd;
  };
  static Result<MappedGuestMemory> map(std::vector<FdRegion> regions);

  MappedGuestMemory() = default;
  MappedGuestMemory(MappedGuestMemory&&) noexcept;
  MappedGuestMemory& operator=(MappedGuestMemory&&) noexcept;
  ~MappedGuestMemory();

  const GuestMemory& memory() const { return memory_; }

 private:
  struct Mapping {
    void* addr;
    size_t len;
  };
  void unmap_all();
  GuestMemory memory_;
  std::vector<Mapping> maps_;
};

}  // namespace runvm
