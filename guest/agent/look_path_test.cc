#include "guest/agent/look_path.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm::agent {
namespace {

class LookPath : public ::testing::Test {
 protected:
  void SetUp() override {
    make("bin/tool", 0755);
    make("bin/data", 0644);
    make("other/tool", 0755);
    std::filesystem::create_directories(dir_ + "/bin/subdir");
  }
  void make(const std::string& rel, mode_t mode) {
    std::filesystem::create_directories(std::filesystem::path(dir_ + "/" + rel).parent_path());
    std::ofstream(dir_ + "/" + rel) << "#!/bin/sh\n";
    chmod((dir_ + "/" + rel).c_str(), mode);
  }
  testing::TempDir tmp_{"runvm-lookpath"};
  const std::string dir_ = tmp_.path();
};

std::string message(const Result<std::string>& r) { return r.ok() ? *r : r.error().message; }

TEST_F(LookPath, SearchesPathInOrder) {
  std::string path = dir_ + "/other:" + dir_ + "/bin";
  EXPECT_EQ(message(look_path("tool", path)), dir_ + "/other/tool");
  EXPECT_EQ(message(look_path("tool", dir_ + "/nonexistent::" + dir_ + "/bin")),
            dir_ + "/bin/tool");
}

TEST_F(LookPath, RuncWordingAndExitCodes) {
  std::string path = dir_ + "/bin";
  auto missing = look_path("nope", path);
  EXPECT_EQ(message(missing), "exec: \"nope\": executable file not found in $PATH");
  EXPECT_EQ(missing.error().code, kExitNotFound);
  // Not executable in PATH is skipped, like Go's LookPath.
  EXPECT_EQ(message(look_path("data", path)), "exec: \"data\": executable file not found in $PATH");
  EXPECT_EQ(message(look_path("tool", "")), "exec: \"tool\": executable file not found in $PATH");

  auto abs_missing = look_path(dir_ + "/bin/nope", path);
  EXPECT_EQ(message(abs_missing), "exec: \"" + dir_ + "/bin/nope\": stat " + dir_ +
                                      "/bin/nope: no such file or directory");
  EXPECT_EQ(abs_missing.error().code, kExitNotFound);
  auto not_exec = look_path(dir_ + "/bin/data", path);
  EXPECT_EQ(message(not_exec), "exec: \"" + dir_ + "/bin/data\": permission denied");
  EXPECT_EQ(not_exec.error().code, kExitNotExecutable);
  auto is_dir = look_path(dir_ + "/bin/subdir", path);
  EXPECT_EQ(message(is_dir), "exec: \"" + dir_ + "/bin/subdir\": is a directory");
  EXPECT_EQ(is_dir.error().code, kExitNotExecutable);
  EXPECT_EQ(message(look_path(dir_ + "/bin/tool", "")), dir_ + "/bin/tool");
}

TEST(EnvValue, LastDefinitionWins) {
  std::vector<std::string> env = {"PATH=/a", "PATHX=/x", "HOME=/h", "PATH=/b:/c", "EMPTY="};
  bool found = false;
  EXPECT_EQ(env_value(env, "PATH", &found), "/b:/c");
  EXPECT_TRUE(found);
  EXPECT_EQ(env_value(env, "EMPTY", &found), "");
  EXPECT_TRUE(found);
  EXPECT_EQ(env_value(env, "PAT", &found), "");
  EXPECT_FALSE(found);
}

}  // namespace
}  // namespace runvm::agent
