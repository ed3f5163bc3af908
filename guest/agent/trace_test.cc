#include "guest/agent/trace.h"

#include <gtest/gtest.h>

namespace runvm::agent::trace {
namespace {

TEST(TraceTest, OffMarksNothing) {
  enable(false);
  EXPECT_FALSE(enabled());
  mark("nothing");  // no console to write to: must be a no-op
}

}  // namespace
}  // namespace runvm::agent::trace
