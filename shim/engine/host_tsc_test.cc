#include "shim/engine/host_tsc.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace runvm {
namespace {

TEST(HostTsc, InvariantOnlyWithBothFlags) {
  EXPECT_TRUE(cpuinfo_has_invariant_tsc(
      "processor\t: 0\nflags\t\t: fpu tsc constant_tsc rep_good nopl nonstop_tsc cpuid\n"));
  EXPECT_FALSE(cpuinfo_has_invariant_tsc("flags\t\t: fpu tsc constant_tsc rep_good\n"));
  EXPECT_FALSE(cpuinfo_has_invariant_tsc("flags\t\t: fpu tsc nonstop_tsc\n"));
  // Whole words only.
  EXPECT_FALSE(cpuinfo_has_invariant_tsc("flags\t\t: xconstant_tsc nonstop_tscx\n"));
  // The first CPU's flags decide.
  EXPECT_FALSE(
      cpuinfo_has_invariant_tsc("flags\t\t: fpu\n\nflags\t\t: constant_tsc nonstop_tsc\n"));
  EXPECT_FALSE(cpuinfo_has_invariant_tsc(""));
  EXPECT_FALSE(cpuinfo_has_invariant_tsc("flags without colon constant_tsc nonstop_tsc"));
}

TEST(HostTsc, MeasuresTheSameFrequencyTwice) {
  std::ifstream in("/proc/cpuinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  auto first = host_tsc_khz();
#if defined(__x86_64__)
  // Both conditions: this host may have the flags and still clock on
  // kvm-clock (a nested VM booted with tsc=unstable).
  ASSERT_EQ(first.has_value(), cpuinfo_has_invariant_tsc(ss.str()) && host_clocksource_is_tsc());
#else
  ASSERT_FALSE(first.has_value());
#endif
  if (!first) GTEST_SKIP() << "no invariant TSC, or the host does not clock on it";
  auto second = host_tsc_khz();
  ASSERT_TRUE(second.has_value());
  // Within 0.1%: a guest clock that far off would drift 86 s a day.
  EXPECT_LT(std::fabs(static_cast<double>(*first) - static_cast<double>(*second)),
            static_cast<double>(*first) * 1e-3)
      << *first << " vs " << *second;
}

}  // namespace
}  // namespace runvm
