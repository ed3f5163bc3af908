#include "spec/json_fields.h"

#include <gtest/gtest.h>

namespace runvm::oci::fields {
namespace {

TEST(Quote, EscapesWhatCouldBreakALine) {
  EXPECT_EQ(quote("ab"), "\"ab\"");
  EXPECT_EQ(quote("a\"b\\"), R"("a\"b\\")");
  EXPECT_EQ(quote(std::string_view("\n\0\xff", 3)), R"("\x0a\x00\xff")");
}

TEST(Fields, NullIsAbsent) {
  auto doc = json::Document::parse(R"({"s":null,"b":null,"l":null,"m":null,"n":null})");
  ASSERT_TRUE(doc.ok());
  auto root = doc->root();
  EXPECT_EQ(*string_or_empty(root, "s"), "");
  EXPECT_FALSE(*bool_or_false(root, "b"));
  EXPECT_TRUE(string_list(root, "l")->empty());
  EXPECT_TRUE(string_map(root, "m")->empty());
  EXPECT_FALSE(*opt_uint(root, "n"));
  EXPECT_EQ(require(root, "n").error().message, "n: is required");
}

TEST(Fields, StringMapKeepsLastDuplicate) {
  auto doc = json::Document::parse(R"({"m":{"k":"1","k":"2"}})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(string_map(doc->root(), "m")->at("k"), "2");
}

}  // namespace
}  // namespace runvm::oci::fields
