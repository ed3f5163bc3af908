#include "shim/virtio/guest_memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

namespace runvm {
namespace {

TEST(GuestMemory, SlicesMustLieInOneRegion) {
  std::vector<uint8_t> lo(4096), hi(4096);
  GuestMemory mem({{0x0, 4096, 0x1000000, lo.data()}, {0x1000, 4096, 0x2000000, hi.data()}});
  EXPECT_TRUE(mem.slice(0, 4096).ok());
  EXPECT_TRUE(mem.slice(0x1000, 4096).ok());
  EXPECT_EQ(mem.slice(0x1000, 1)->data(), hi.data());
  EXPECT_FALSE(mem.slice(0xfff, 2).ok());         // straddles two regions
  EXPECT_FALSE(mem.slice(0x1fff, 2).ok());        // runs off the end
  EXPECT_TRUE(mem.slice(0x1000 + 4096, 0).ok());  // empty range at the very end
  EXPECT_FALSE(mem.slice(0x3000, 0).ok());
  EXPECT_FALSE(mem.slice(~0ull, 2).ok());     // wraps
  EXPECT_FALSE(mem.slice(0x10, ~0ull).ok());  // huge length
  EXPECT_EQ(*mem.uva_to_gpa(0x2000010, 16), 0x1010u);
  EXPECT_FALSE(mem.uva_to_gpa(0x2000ff8, 16).ok());
}

TEST(GuestMemory, ReadWriteObjects) {
  std::vector<uint8_t> ram(64);
  GuestMemory mem({{0x100, 64, 0, ram.data()}});
  uint32_t v = 0xabcdef01;
  ASSERT_TRUE(mem.write(0x104, &v, sizeof v).ok());
  EXPECT_EQ(*mem.read_obj<uint32_t>(0x104), v);
  EXPECT_FALSE(mem.read_obj<uint64_t>(0x13c).ok());
}

TEST(MappedGuestMemory, MapsMemfdRegionsAtOffsets) {
  UniqueFd fd(memfd_create("ram", MFD_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(ftruncate(fd.get(), 8192), 0);
  std::vector<MappedGuestMemory::FdRegion> regions;
  regions.push_back({0x0, 4096, 0x5000, 4096, UniqueFd(dup(fd.get()))});
  auto m = MappedGuestMemory::map(std::move(regions));
  ASSERT_TRUE(m.ok()) << m.error().message;
  uint8_t b = 0x5a;
  ASSERT_TRUE(m->memory().write(10, &b, 1).ok());
  uint8_t back = 0;
  ASSERT_EQ(pread(fd.get(), &back, 1, 4096 + 10), 1);
  EXPECT_EQ(back, 0x5a);
}

}  // namespace
}  // namespace runvm
