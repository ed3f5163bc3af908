#include "guest/agent/kernel_cmdline.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace runvm::agent {
namespace {

TEST(KernelCmdlineTest, FindsTheWholeWordOnly) {
  EXPECT_TRUE(cmdline_has_word("console=ttyS0 quiet runvm.debug\n", "runvm.debug"));
  EXPECT_TRUE(cmdline_has_word("runvm.debug", "runvm.debug"));
  EXPECT_TRUE(cmdline_has_word("a runvm.debug b", "runvm.debug"));
  EXPECT_FALSE(cmdline_has_word("runvm.debugx quiet", "runvm.debug"));
  EXPECT_FALSE(cmdline_has_word("xrunvm.debug", "runvm.debug"));
  EXPECT_FALSE(cmdline_has_word("runvm.debug=0", "runvm.debug"));
  EXPECT_FALSE(cmdline_has_word("", "runvm.debug"));
}

TEST(KernelCmdlineTest, VisitsEachWordInOrderUntilOneMatches) {
  std::vector<std::string> seen;
  EXPECT_TRUE(find_cmdline_word("a  b\nc d", [&](std::string_view w) {
    seen.emplace_back(w);
    return w == "c";
  }));
  // Two spaces make an empty word; the newline ends one like a space.
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "", "b", "c"}));
  EXPECT_FALSE(find_cmdline_word("a b\n", [](std::string_view) { return false; }));
}

}  // namespace
}  // namespace runvm::agent
