#include "spec/features.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "spec/base/json.h"

namespace runvm::oci {
namespace {

std::vector<std::string> strings(const json::Value& v) {
  std::vector<std::string> out;
  auto items = v.as_array();  // kept: a range-for over *v.as_array() would dangle
  for (const auto& e : *items) out.push_back(*e.as_string());
  return out;
}

TEST(Features, IsValidJsonWithTheSpecFields) {
  std::string text = features_json();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.substr(0, 6), "{\n    ");
  auto doc = json::Document::parse(text);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  auto root = doc->root();
  EXPECT_EQ(*root.at("ociVersionMin")->as_string(), "1.0.0");
  EXPECT_EQ(strings(*root.at("hooks")).size(), 6u);
  auto opts = strings(*root.at("mountOptions"));
  EXPECT_TRUE(std::is_sorted(opts.begin(), opts.end()));
  EXPECT_NE(std::find(opts.begin(), opts.end(), "rbind"), opts.end());
  auto lx = *root.at("linux");
  auto ns = strings(*lx.at("namespaces"));
  EXPECT_TRUE(std::is_sorted(ns.begin(), ns.end()));
  auto caps = strings(*lx.at("capabilities"));
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_SYS_ADMIN"), caps.end());
  EXPECT_TRUE(*lx.at("seccomp")->at("enabled")->as_bool());
  EXPECT_EQ(*root.at("annotations")->at("io.github.runvm.microvm")->as_string(), "true");
}

}  // namespace
}  // namespace runvm::oci
