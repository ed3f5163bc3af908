#include "spec/base/result.h"

#include <gtest/gtest.h>

namespace runvm {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error("must be positive");
  return v;
}

Result<int> doubled(int v) {
  int x = RUNVM_TRY(parse_positive(v).context("value"));
  return 2 * x;
}

Status check_both(int a, int b) {
  RUNVM_CHECK(doubled(a).context("a"));
  RUNVM_CHECK(doubled(b).context("b"));
  return {};
}

TEST(Result, TryPropagatesWithContext) {
  EXPECT_EQ(*doubled(4), 8);
  auto r = doubled(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "value: must be positive");
  auto s = check_both(1, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "b: value: must be positive");
  EXPECT_TRUE(check_both(1, 2).ok());
}

TEST(Result, ErrnoErrorKeepsCode) {
  Error e = errno_error("open x", ENOENT);
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message, "open x: No such file or directory");
}

}  // namespace
}  // namespace runvm
