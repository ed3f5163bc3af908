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

TEST(QueueStatsTest, SplitsServiceFromRoundTripGapsAndIdle) {
  QueueStats q;
  q.record_kick();
  q.record_kick();
  q.record_batch(3, 1'000, 4'000, /*interrupted=*/true);     // first: no gap yet
  q.record_batch(1, 10'000, 11'000, /*interrupted=*/false);  // gap 6 us
  q.record_batch(2, 11'000 + QueueStats::kIdleGapNs + 1, 11'000 + QueueStats::kIdleGapNs + 501,
                 /*interrupted=*/true);  // idle, not a round trip
  const auto s = q.snapshot();
  EXPECT_EQ(s.kicks, 2u);
  EXPECT_EQ(s.batches, 3u);
  EXPECT_EQ(s.requests, 6u);
  EXPECT_EQ(s.max_batch, 3u);
  EXPECT_EQ(s.interrupts, 2u);
  EXPECT_EQ(s.busy_ns, 3'000u + 1'000u + 500u);
  EXPECT_EQ(s.gap_ns, 6'000u);
  EXPECT_EQ(s.gaps, 1u);
  EXPECT_EQ(s.idle_gaps, 1u);
  EXPECT_NE(q.format().find("fuse-queue kicks=2 batches=3 requests=6 max_batch=3 interrupts=2 "),
            std::string::npos);
  EXPECT_NE(q.format().find("gaps=1 avg_gap_us=6.0 idle_gaps=1"), std::string::npos);
}

}  // namespace
}  // namespace runvm::fuse
