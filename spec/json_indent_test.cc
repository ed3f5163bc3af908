#include "spec/json_indent.h"

#include <gtest/gtest.h>

namespace runvm::oci {
namespace {

TEST(IndentJson, LikeGoMarshalIndent) {
  EXPECT_EQ(indent_json(R"({"a":[1,{"b":"x,y:{z}"}],"e":[],"o":{}})", "  "),
            "{\n"
            "  \"a\": [\n"
            "    1,\n"
            "    {\n"
            "      \"b\": \"x,y:{z}\"\n"
            "    }\n"
            "  ],\n"
            "  \"e\": [],\n"
            "  \"o\": {}\n"
            "}");
}

TEST(IndentJson, EscapedQuotesStayInString) {
  EXPECT_EQ(indent_json(R"(["a\"],[","\\"])", "\t"), "[\n\t\"a\\\"],[\",\n\t\"\\\\\"\n]");
}

}  // namespace
}  // namespace runvm::oci
