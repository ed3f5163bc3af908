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

}  // namespace
}  // namespace runvm::timeline
