#include "spec/base/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  testing::TempDir tmp_{"runvm-atomic-file-test"};
  const std::string dir_ = tmp_.path();
};

TEST_F(AtomicFileTest, ReplacesTheContentAndLeavesNoTemporary) {
  std::string path = dir_ + "/state.json";
  ASSERT_TRUE(write_file_atomic(path, "first, and longer").ok());
  EXPECT_EQ(read(path), "first, and longer");
  ASSERT_TRUE(write_file_atomic(path, "second", /*durable=*/false).ok());
  EXPECT_EQ(read(path), "second");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u & ~umask(umask(0)));
}

TEST_F(AtomicFileTest, FailureLeavesTheOldContentAndNothingElse) {
  std::string path = dir_ + "/pid";
  ASSERT_TRUE(write_file_atomic(path, "42").ok());
  // rename(2) cannot replace a directory with a file: the write fails late.
  fs::create_directory(dir_ + "/dir");
  auto s = write_file_atomic(dir_ + "/dir", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("write " + dir_ + "/dir"), std::string::npos);
  EXPECT_NE(s.error().code, 0);
  EXPECT_FALSE(fs::exists(dir_ + "/dir.tmp"));
  EXPECT_EQ(read(path), "42");
}

TEST_F(AtomicFileTest, MissingDirectoryIsAnError) {
  auto s = write_file_atomic(dir_ + "/no/such/file", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ENOENT);
}

}  // namespace
}  // namespace runvm
