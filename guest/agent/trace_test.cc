#include "guest/agent/trace.h"

#include <gtest/gtest.h>

namespace runvm::agent::trace {
namespace {

TEST(TraceTest, FindsTheWholeWordOnly) {
  EXPECT_TRUE(cmdline_has_word("console=ttyS0 quiet runvm.debug\n", "runvm.debug"));
  EXPECT_TRUE(cmdline_has_word("runvm.debug", "runvm.debug"));
  EXPECT_TRUE(cmdline_has_word("a runvm.debug b", "runvm.debug"));
  EXPECT_FALSE(cmdline_has_word("runvm.debugx quiet", "runvm.debug"));
  EXPECT_FALSE(cmdline_has_word("xrunvm.debug", "runvm.debug"));
  EXPECT_FALSE(cmdline_has_word("runvm.debug=0", "runvm.debug"));
  EXPECT_FALSE(cmdline_has_word("", "runvm.debug"));
}

TEST(TraceTest, OffMarksNothing) {
  enable(false);
  EXPECT_FALSE(enabled());
  mark("nothing");  // no console to write to: must be a no-op
}

}  // namespace
}  // namespace runvm::agent::trace
