#include "spec/path.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace runvm::oci {
namespace {

TEST(CleanPath, MatchesGoFilepathClean) {
  EXPECT_EQ(clean_path(""), ".");
  EXPECT_EQ(clean_path("/"), "/");
  EXPECT_EQ(clean_path("//a//b/"), "/a/b");
  EXPECT_EQ(clean_path("/a/./b/../c"), "/a/c");
  EXPECT_EQ(clean_path("/../a"), "/a");
  EXPECT_EQ(clean_path("a/../.."), "..");
  EXPECT_EQ(clean_path("../a/.."), "..");
  EXPECT_EQ(clean_path("./"), ".");
  EXPECT_EQ(clean_path("a/b/../../c"), "c");
}

TEST(AbsolutePath, JoinsWorkingDirectory) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(*absolute_path("/x/../y"), "/y");
  EXPECT_EQ(*absolute_path("sub/"), clean_path(std::string(cwd) + "/sub"));
}

}  // namespace
}  // namespace runvm::oci
