#include "spec/base/timeline.h"

#include <gtest/gtest.h>

namespace runvm::timeline {
namespace {

TEST(Timeline, FormatsMillisecondsSinceOriginAndPrevious) {
  EXPECT_EQ(format("qmp_ready", 412'345'678, 8'100'000), "phase qmp_ready 412.3 ms (+8.1 ms)");
  EXPECT_EQ(format("shim_exec", 0, 0), "phase shim_exec 0.0 ms (+0.0 ms)");
  EXPECT_EQ(format("agent_hello", 1'000'000'000, 5'000, "guest agent at 640 ms"),
            "phase agent_hello 1000.0 ms (+0.0 ms) -- guest agent at 640 ms");
}

TEST(Timeline, MarkCountsFromTheOrigin) {
  int64_t t = now_ns();
  set_origin(t - 5'000'000);
  EXPECT_EQ(origin_ns(), t - 5'000'000);
  EXPECT_GE(now_ns() - origin_ns(), 5'000'000);
  mark("silent");  // no --debug: nothing to see, nothing to break
}

TEST(Timeline, ParsesSchedstatsTimeOnCpu) {
  EXPECT_EQ(parse_schedstat_ns("527000123 1200345 310\n"), 527000123);
  EXPECT_EQ(parse_schedstat_ns("0 0 0\n"), 0);
  EXPECT_EQ(parse_schedstat_ns("42"), 42);
  EXPECT_FALSE(parse_schedstat_ns(""));
  EXPECT_FALSE(parse_schedstat_ns("-5 1 1\n"));
  EXPECT_FALSE(parse_schedstat_ns("12x 1 1\n"));
  EXPECT_FALSE(parse_schedstat_ns("99999999999999999999999 1 1\n"));
}

}  // namespace
}  // namespace runvm::timeline
