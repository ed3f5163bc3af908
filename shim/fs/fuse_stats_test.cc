#include "shim/fs/fuse_stats.h"

#include <gtest/gtest.h>
#include <linux/fuse.h>

#include <thread>
#include <vector>

namespace runvm::fuse {
namespace {

TEST(FuseStatsTest, CountsTotalAndMaxPerOpcode) {
  Stats s;
  s.record(FUSE_LOOKUP, 100);
  s.record(FUSE_LOOKUP, 300);
  s.record(FUSE_LOOKUP, 200, /*failed=*/true);
  s.record(FUSE_WRITE, 5000);
  auto snap = s.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  // Most requests first.
  EXPECT_EQ(snap[0].opcode, static_cast<uint32_t>(FUSE_LOOKUP));
  EXPECT_EQ(snap[0].count, 3u);
  EXPECT_EQ(snap[0].errors, 1u);
  EXPECT_EQ(snap[0].total_ns, 600u);
  EXPECT_EQ(snap[0].max_ns, 300u);
  EXPECT_EQ(snap[1].opcode, static_cast<uint32_t>(FUSE_WRITE));
  EXPECT_EQ(snap[1].count, 1u);
  EXPECT_EQ(snap[1].errors, 0u);
  EXPECT_EQ(snap[1].max_ns, 5000u);
  EXPECT_EQ(s.total_requests(), 4u);
}

TEST(FuseStatsTest, HostileOpcodesShareTheOtherSlot) {
  Stats s;
  s.record(0xffffffffu, 10);
  s.record(Stats::kSlots, 20);
  s.record(4096 /* CUSE_INIT */, 5);
  auto snap = s.snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].opcode, Stats::kOtherSlot);
  EXPECT_EQ(snap[0].count, 3u);
  EXPECT_EQ(snap[0].max_ns, 20u);
  EXPECT_NE(s.format().find("fuse OTHER count=3"), std::string::npos);
}

TEST(FuseStatsTest, FormatNamesOpcodesAndTotals) {
  Stats s;
  s.record(FUSE_GETXATTR, 2000);
  s.record(FUSE_GETXATTR, 4000, true);
  s.record_capability_query();
  s.record(FUSE_CREATE, 1000);
  const std::string text = s.format();
  EXPECT_NE(text.find("fuse GETXATTR count=2 errors=1 total_ms=0.0 avg_us=3.0 max_us=4.0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("fuse CREATE count=1"), std::string::npos) << text;
  EXPECT_NE(text.find("fuse TOTAL count=3 total_ms=0.0 getxattr_security_capability=1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(opcode_name(FUSE_READDIRPLUS), "READDIRPLUS");
  EXPECT_EQ(opcode_name(63), "OP63");
}

TEST(FuseStatsTest, SetattrKindsCountWhatEachRequestSet) {
  Stats s;
  s.record_setattr(FATTR_MODE);
  s.record_setattr(FATTR_UID | FATTR_GID);
  s.record_setattr(FATTR_ATIME | FATTR_MTIME);
  s.record_setattr(FATTR_MTIME_NOW | FATTR_SIZE | FATTR_FH);
  s.record_setattr(FATTR_LOCKOWNER);
  const auto k = s.setattr_kinds();
  EXPECT_EQ(k.mode, 1u);
  EXPECT_EQ(k.owner, 1u);
  EXPECT_EQ(k.size, 1u);
  EXPECT_EQ(k.times, 2u);
  EXPECT_NE(s.format().find("fuse-setattr mode=1 owner=1 size=1 times=2\n"), std::string::npos)
      << s.format();
}

TEST(FuseStatsTest, ConcurrentRecordsAreAllCounted) {
  Stats s;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&s, t] {
      for (int i = 0; i < 10000; ++i) s.record(FUSE_GETATTR, static_cast<uint64_t>(t * 10000 + i));
    });
  for (auto& th : threads) th.join();
  auto snap = s.snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].count, 40000u);
  EXPECT_EQ(snap[0].max_ns, 39999u);
}

TEST(FuseStatsTest, RecognisesTheCapabilityName) {
  using namespace std::string_view_literals;
  EXPECT_TRUE(is_capability_getxattr("security.capability\0"sv));
  EXPECT_FALSE(is_capability_getxattr("security.capability"sv));  // no NUL: not the whole name
  EXPECT_FALSE(is_capability_getxattr("security.capabilityX\0"sv));
  EXPECT_FALSE(is_capability_getxattr("user.foo\0"sv));
  EXPECT_FALSE(is_capability_getxattr(""sv));
}

}  // namespace
}  // namespace runvm::fuse
