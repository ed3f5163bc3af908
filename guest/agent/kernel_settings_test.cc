#include "guest/agent/kernel_settings.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm::agent {
namespace {

class SysctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ + "/net/ipv4");
    std::ofstream(dir_ + "/net/ipv4/ip_forward") << "0\n";
  }
  std::string read(const std::string& rel) {
    std::ifstream in(dir_ + "/" + rel);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  testing::TempDir tmp_{"runvm-sysctl"};
  const std::string dir_ = tmp_.path();
};

TEST_F(SysctlTest, DotsAndSlashesNameFilesUnderProcSys) {
  ASSERT_TRUE(apply_sysctl({{"net.ipv4.ip_forward", "1"}}, dir_).ok());
  EXPECT_EQ(read("net/ipv4/ip_forward"), "1");
  ASSERT_TRUE(apply_sysctl({{"net/ipv4/ip_forward", "2"}}, dir_).ok());
  EXPECT_EQ(read("net/ipv4/ip_forward"), "2");
}

TEST_F(SysctlTest, BadOrMissingKeysAreErrors) {
  auto missing = apply_sysctl({{"net.ipv4.nope", "1"}}, dir_);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("linux.sysctl: \"net.ipv4.nope\": open "),
            std::string::npos)
      << missing.error().message;
  for (const char* bad : {"", "..", "net..x", "/net", "net/../../etc", "a b"}) {
    auto r = apply_sysctl({{bad, "1"}}, dir_);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("invalid key"), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace runvm::agent
