#include "shim/container/bind_shares.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

TEST(PlanMounts, BindSourcesAreSharedThroughTheirParentByName) {
  testing::TempDir tmp("runvm-binds");  // directly under /tmp: its parent is shared below
  const std::string& dir = tmp.path();
  const std::string name = std::filesystem::path(dir).filename();
  std::ofstream(dir + "/file.conf") << "x";
  std::ofstream(dir + "/other.conf") << "y";
  std::vector<oci::Mount> mounts = {
      {"/proc", "proc", "proc", {}},
      {"/data", "bind", dir + "/", {"rbind"}},
      {"/etc/file.conf", "none", dir + "/file.conf", {"bind"}},
      {"/etc/other.conf", "none", dir + "/other.conf", {"bind"}},  // same dir, rw: same share
      {"/etc/again", "none", dir + "/file.conf", {"bind"}},        // once visible
      {"/ro", "bind", dir, {"bind", "ro"}},                        // ro: its own share
      {"/host", "bind", "/", {"rbind", "ro"}},                     // no parent: itself
  };
  auto plan = plan_mounts(mounts);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->shares.size(), 4u);
  EXPECT_EQ(plan->shares[0].tag, "bind0");
  EXPECT_EQ(plan->shares[0].fs.shared_dir, "/tmp");
  EXPECT_EQ(plan->shares[0].fs.visible, std::vector<std::string>{name});
  EXPECT_FALSE(plan->shares[0].fs.readonly);
  EXPECT_EQ(plan->shares[0].fs.cache, CachePolicy::kCoherent);
  for (const auto& share : plan->shares) {
    EXPECT_FALSE(share.fs.xattrs) << share.tag;  // the host's, not the guest's
    EXPECT_TRUE(share.fs.cache_misses) << share.tag;
  }
  EXPECT_EQ(plan->shares[1].fs.shared_dir, dir);
  EXPECT_EQ(plan->shares[1].fs.visible, (std::vector<std::string>{"file.conf", "other.conf"}));
  EXPECT_EQ(plan->shares[2].fs.shared_dir, "/tmp");
  EXPECT_TRUE(plan->shares[2].fs.readonly);
  EXPECT_EQ(plan->shares[3].fs.shared_dir, "/");
  EXPECT_TRUE(plan->shares[3].fs.visible.empty());
  ASSERT_EQ(plan->mounts.size(), 7u);
  EXPECT_EQ(plan->mounts[0].share, "");
  EXPECT_EQ(plan->mounts[0].source, "proc");
  EXPECT_EQ(plan->mounts[1].share, "bind0");
  EXPECT_EQ(plan->mounts[1].source, name);
  EXPECT_EQ(plan->mounts[2].share, "bind1");
  EXPECT_EQ(plan->mounts[2].source, "file.conf");
  EXPECT_EQ(plan->mounts[3].share, "bind1");
  EXPECT_EQ(plan->mounts[3].source, "other.conf");
  EXPECT_EQ(plan->mounts[4].share, "bind1");
  EXPECT_EQ(plan->mounts[4].source, "file.conf");
  EXPECT_EQ(plan->mounts[5].share, "bind2");
  EXPECT_EQ(plan->mounts[6].share, "bind3");
  EXPECT_EQ(plan->mounts[6].source, "");
}

// load_bundle resolved the sources; a symlink found now was swapped in
// since (to /etc here, which the guest must never see): refused, not
// followed, whether it is the source itself or a directory above it.
TEST(PlanMounts, ASourceSwappedForASymlinkIsRefused) {
  testing::TempDir tmp("runvm-binds");
  std::string dir = std::filesystem::canonical(tmp.path()).string();
  std::filesystem::create_directory(dir + "/vol");
  auto plan = plan_mounts({{"/v", "bind", dir + "/vol", {"rbind"}}});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  std::filesystem::rename(dir + "/vol", dir + "/old");
  std::filesystem::create_directory_symlink("/etc", dir + "/vol");
  plan = plan_mounts({{"/v", "bind", dir + "/vol", {"rbind"}}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message,
            "mounts[0].source: \"" + dir + "/vol\" is a symlink: changed since it was resolved");
  std::filesystem::create_directory(dir + "/old/etc");
  std::filesystem::create_directory_symlink("/", dir + "/up");
  plan = plan_mounts({{"/v", "bind", dir + "/up/etc", {"rbind"}}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message, "mounts[0].source: \"" + dir + "/up/etc\": " + dir +
                                      "/up is a symlink: changed since it was resolved");
}

// The share serves the directory opened at planning: swapping the path
// for a symlink afterwards changes nothing the guest sees.
TEST(PlanMounts, TheShareHoldsTheDirectoryItChecked) {
  testing::TempDir tmp("runvm-binds");
  std::string dir = std::filesystem::canonical(tmp.path()).string();
  std::filesystem::create_directories(dir + "/d/vol");
  auto plan = plan_mounts({{"/v", "bind", dir + "/d/vol", {"rbind"}}});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->shares.size(), 1u);
  ASSERT_TRUE(plan->shares[0].fs.dir_fd);
  std::filesystem::rename(dir + "/d", dir + "/moved");
  std::filesystem::create_directory_symlink("/", dir + "/d");
  struct stat held, moved;
  ASSERT_EQ(fstat(plan->shares[0].fs.dir_fd->get(), &held), 0);
  ASSERT_EQ(stat((dir + "/moved").c_str(), &moved), 0);
  EXPECT_EQ(held.st_ino, moved.st_ino);
}

TEST(PlanMounts, MissingSourceNamesTheMount) {
  auto plan = plan_mounts({{"/x", "bind", "/nonexistent/runvm", {"bind"}}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message, "mounts[0].source: \"/nonexistent/runvm\" does not exist");
}

}  // namespace
}  // namespace runvm
