#include "runtime/duration.h"

#include <gtest/gtest.h>

namespace runvm::cli {
namespace {

TEST(GoDuration, ParsesGoSyntax) {
  EXPECT_EQ(*parse_go_duration("5s"), 5'000'000'000);
  EXPECT_EQ(*parse_go_duration("300ms"), 300'000'000);
  EXPECT_EQ(*parse_go_duration("1.5s"), 1'500'000'000);
  EXPECT_EQ(*parse_go_duration("2h45m"), (2 * 3600 + 45 * 60) * 1'000'000'000LL);
  EXPECT_EQ(*parse_go_duration("10us"), 10'000);
  EXPECT_EQ(*parse_go_duration("10\xc2\xb5s"), 10'000);
  EXPECT_EQ(*parse_go_duration("-1s"), -1'000'000'000);
  EXPECT_EQ(*parse_go_duration("0"), 0);
}

TEST(GoDuration, RejectsWhatGoRejects) {
  for (const char* bad : {"", "5", "s", "1x", "1..s", "-", ".s"})
    EXPECT_FALSE(parse_go_duration(bad).ok()) << bad;
  EXPECT_EQ(parse_go_duration("5").error().message, "time: missing unit in duration \"5\"");
}

}  // namespace
}  // namespace runvm::cli
