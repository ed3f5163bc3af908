#include "spec/pinned_path.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm::oci {
namespace {

namespace fs = std::filesystem;

TEST(OpenNoSymlinks, OpensTheCanonicalPath) {
  runvm::testing::TempDir tmp("runvm-pinned");
  fs::create_directories(tmp.path() + "/a/b");
  std::ofstream(tmp.path() + "/a/b/f") << "x";
  std::string real = fs::canonical(tmp.path()).string();
  auto fd = open_no_symlinks(real + "/a/b/f");
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  struct stat by_fd, by_path;
  ASSERT_EQ(fstat(fd->get(), &by_fd), 0);
  ASSERT_EQ(stat((real + "/a/b/f").c_str(), &by_path), 0);
  EXPECT_EQ(by_fd.st_ino, by_path.st_ino);
  EXPECT_TRUE(open_no_symlinks("/").ok());
}

// The race it closes: a component swapped for a symlink (here to /etc)
// after the path was resolved is refused, wherever it is in the path.
TEST(OpenNoSymlinks, ASymlinkAnywhereIsRefused) {
  runvm::testing::TempDir tmp("runvm-pinned");
  std::string real = fs::canonical(tmp.path()).string();
  fs::create_directory_symlink("/etc", real + "/data");
  auto fd = open_no_symlinks(real + "/data");
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, ELOOP);
  EXPECT_EQ(fd.error().message, real + "/data is a symlink: changed since it was resolved");
  fd = open_no_symlinks(real + "/data/passwd");
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().message, real + "/data is a symlink: changed since it was resolved");
}

TEST(OpenNoSymlinks, MissingAndNotCanonical) {
  auto fd = open_no_symlinks("/nonexistent-runvm/x");
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, ENOENT);
  EXPECT_EQ(fd.error().message, "/nonexistent-runvm: No such file or directory");
  EXPECT_EQ(open_no_symlinks("/tmp/../etc").error().code, EINVAL);
  EXPECT_EQ(open_no_symlinks("relative").error().code, EINVAL);
}

}  // namespace
}  // namespace runvm::oci
