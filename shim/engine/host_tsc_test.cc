#include "shim/engine/host_tsc.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdlib>

namespace runvm {
namespace {

TEST(HostTsc, RateBetweenTwoReadings) {
  TscSample a{1'000'000, 0};
  EXPECT_EQ(tsc_khz_between(a, {1'000'000 + 2'596'120'000ull, 1'000'000'000}), 2596120u);
  // Too close together to say, backwards, or implausible.
  EXPECT_FALSE(tsc_khz_between(a, {2'000'000, 1'000'000}));
  EXPECT_FALSE(tsc_khz_between(a, {500, 1'000'000'000}));
  EXPECT_FALSE(tsc_khz_between(a, {1'000'000 + 1'000, 1'000'000'000}));
  EXPECT_FALSE(tsc_khz_between(a, {1'000'000 + 30'000'000'000'000ull, 1'000'000'000}));
}

TEST(HostTsc, InvariantOnlyWithBothFlags) {
  const char* both =
      "processor\t: 0\nflags\t\t: fpu tsc constant_tsc rep_good nonstop_tsc cpuid\n"
      "bogomips\t: 5192.24\n";
  EXPECT_TRUE(tsc_is_invariant(both));
  EXPECT_FALSE(tsc_is_invariant("processor\t: 0\nflags\t\t: fpu tsc constant_tsc cpuid\n"));
  // Whole words only, and only the flags line.
  EXPECT_FALSE(tsc_is_invariant("processor\t: 0\nflags\t\t: xconstant_tsc nonstop_tscx\n"));
  EXPECT_FALSE(tsc_is_invariant("processor\t: 0\nbugs\t: constant_tsc nonstop_tsc\n"));
  EXPECT_FALSE(tsc_is_invariant(""));
}

// On this host: the measured rate agrees with one measured over a longer
// interval to 0.1% (the guest's clock would drift by that much).
TEST(HostTsc, HostRateAgreesWithALongerMeasurement) {
  auto khz = host_tsc_khz();
  if (!khz) GTEST_SKIP() << "no invariant x86 TSC on this host";
  auto a = sample_tsc();
  ASSERT_TRUE(a);
  timespec pause{0, 200'000'000};
  ::nanosleep(&pause, nullptr);
  auto b = sample_tsc();
  ASSERT_TRUE(b);
  auto reference = tsc_khz_between(*a, *b);
  ASSERT_TRUE(reference);
  EXPECT_LT(std::llabs(static_cast<long long>(*khz) - static_cast<long long>(*reference)),
            static_cast<long long>(*reference / 1000))
      << *khz << " vs " << *reference;
}

}  // namespace
}  // namespace runvm
