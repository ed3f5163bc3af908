#include "spec/base/json.h"

#include <gtest/gtest.h>

namespace runvm::json {
namespace {

TEST(Json, TypedLookupsNamePath) {
  auto doc = Document::parse(R"({"process":{"args":["sh", 3],"terminal":true}})");
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  auto process = doc->root().at("process");
  ASSERT_TRUE(process.ok());
  auto args = process->at("args")->as_array();
  ASSERT_TRUE(args.ok());
  ASSERT_EQ(args->size(), 2u);
  EXPECT_EQ(*(*args)[0].as_string(), "sh");
  auto bad = (*args)[1].as_string();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "process.args[1]: must be a string");
  EXPECT_TRUE(*process->at("terminal")->as_bool());
  auto missing = process->at("cwd");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "process.cwd: is required");
}

TEST(Json, ParseErrorIsOneLine) {
  auto doc = Document::parse("{\"a\": [1, 2");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error().message.find('\n'), std::string::npos);
  EXPECT_FALSE(Document::parse(std::string_view("{}\0x", 4)).ok());
}

TEST(Json, LookupsTakeTheLastOfDuplicateMembersAsGoDoes) {
  auto d = Document::parse(R"({"a":{"b":"first","b":"last"},"n":1,"n":"x"})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*(*(*d->root().at("a")).at("b")).as_string(), "last");
  EXPECT_EQ((*d->root().at("n")).as_int().error().message, "n: must be an integer");
}

TEST(Json, LargeUnsigned) {
  auto doc = Document::parse(R"({"a":18446744073709551615,"b":-1})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(*doc->root().at("a")->as_uint(), UINT64_MAX);
  EXPECT_FALSE(doc->root().at("b")->as_uint().ok());
}

TEST(Json, WriterRoundTrip) {
  Writer w;
  w.begin_object().key("s").string("x\"y").key("n").uinteger(UINT64_MAX).key("b").boolean(false);
  w.key("a").begin_array().integer(-5).null().end_array().end_object();
  auto doc = Document::parse(w.str());
  ASSERT_TRUE(doc.ok()) << w.str();
  EXPECT_EQ(*doc->root().at("s")->as_string(), "x\"y");
  EXPECT_EQ(*doc->root().at("n")->as_uint(), UINT64_MAX);
  EXPECT_EQ(*(*doc->root().at("a")->as_array())[0].as_int(), -5);
}

TEST(Json, WriterNumbersAsText) {
  Writer w;
  w.begin_array().integer(0).integer(INT64_MIN).integer(42).uinteger(0).uinteger(UINT64_MAX);
  w.end_array();
  EXPECT_EQ(w.str(), "[0,-9223372036854775808,42,0,18446744073709551615]");
}

TEST(NestingDepth, IgnoresBracketsInStrings) {
  EXPECT_EQ(nesting_depth("{}"), 1u);
  EXPECT_EQ(nesting_depth(R"({"a":[[1]],"b":"[[[[\"[["})"), 3u);
  EXPECT_EQ(nesting_depth("]]]][["), 2u);
}

TEST(ParseDocument, RejectsDeepNesting) {
  std::string ok = std::string(kMaxNestingDepth, '[') + std::string(kMaxNestingDepth, ']');
  EXPECT_TRUE(Document::parse(ok).ok());
  auto deep = Document::parse("[" + ok + "]");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().message, "invalid JSON: nested deeper than 64 levels");
}

}  // namespace
}  // namespace runvm::json
