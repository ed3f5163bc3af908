#include "guest/agent/container_root.h"

#include <gtest/gtest.h>

namespace runvm::agent {
namespace {

TEST(PremountTagTest, TakesTheTagOfItsWord) {
  EXPECT_EQ(premount_tag_from_cmdline("console=ttyS0 runvm.premount=pod quiet\n"), "pod");
  EXPECT_EQ(premount_tag_from_cmdline("runvm.premount=pod\n"), "pod");
  EXPECT_EQ(premount_tag_from_cmdline("runvm.premount=rootfs_1-a"), "rootfs_1-a");
  EXPECT_EQ(premount_tag_from_cmdline("quiet"), "");
  EXPECT_EQ(premount_tag_from_cmdline(""), "");
  EXPECT_EQ(premount_tag_from_cmdline("xrunvm.premount=pod"), "");
}

TEST(PremountTagTest, RefusesWhatCannotNameAShare) {
  EXPECT_EQ(premount_tag_from_cmdline("runvm.premount="), "");
  EXPECT_EQ(premount_tag_from_cmdline("runvm.premount=../x"), "");
  EXPECT_EQ(premount_tag_from_cmdline("runvm.premount=a/b"), "");
  EXPECT_EQ(premount_tag_from_cmdline("runvm.premount=" + std::string(37, 'a')), "");
  EXPECT_EQ(premount_tag_from_cmdline("runvm.premount=" + std::string(36, 'a')),
            std::string(36, 'a'));
  // A bad one does not hide a good one after it.
  EXPECT_EQ(premount_tag_from_cmdline("runvm.premount=a/b runvm.premount=pod"), "pod");
}

}  // namespace
}  // namespace runvm::agent
