#include "spec/base/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>

namespace runvm {
namespace {

namespace fs = std::filesystem;

TEST(TempDir, IsFreshPrivateAndRemovedWithItsContents) {
  std::string path;
  {
    auto a = TempDir::create("/tmp", "runvm-base-temp-dir-test");
    ASSERT_TRUE(a.ok()) << a.error().message;
    auto b = TempDir::create("/tmp", "runvm-base-temp-dir-test");
    ASSERT_TRUE(b.ok()) << b.error().message;
    path = a->path();
    EXPECT_NE(path, b->path());
    EXPECT_EQ(path.rfind("/tmp/runvm-base-temp-dir-test-", 0), 0u) << path;
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    EXPECT_EQ(*a / "x", path + "/x");
    fs::create_directories(*a / "sub/deeper");
    std::ofstream(*a / "sub/deeper/file") << "data";
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(TempDir, OnlyTheLastOwnerRemovesIt) {
  std::string path;
  std::optional<TempDir> moved;
  {
    auto made = TempDir::create("/tmp", "runvm-base-temp-dir-test");
    ASSERT_TRUE(made.ok()) << made.error().message;
    path = made->path();
    moved.emplace(std::move(*made));
  }  // the moved-from TempDir is gone here
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_EQ(moved->path(), path);
  moved.reset();
  EXPECT_FALSE(fs::exists(path));
}

TEST(TempDir, MissingParentFails) {
  auto r = TempDir::create("/nonexistent-runvm-parent", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ENOENT);
  EXPECT_NE(r.error().message.find("/nonexistent-runvm-parent/x-XXXXXX"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace runvm
