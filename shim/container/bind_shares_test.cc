#include "shim/container/bind_shares.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace runvm {
namespace {

TEST(PlanMounts, BindSourcesBecomeSharesOthersPassThrough) {
  char tmpl[] = "/tmp/runvm-binds-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::ofstream(dir + "/file.conf") << "x";
  std::vector<oci::Mount> mounts = {
      {"/proc", "proc", "proc", {}},
      {"/data", "bind", dir, {"rbind"}},
      {"/etc/file.conf", "none", dir + "/file.conf", {"bind"}},  // same dir, rw: same share
      {"/ro", "bind", dir, {"bind", "ro"}},                      // ro: its own share
  };
  auto plan = plan_mounts(mounts);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->shares.size(), 2u);
  EXPECT_EQ(plan->shares[0].tag, "bind0");
  EXPECT_EQ(plan->shares[0].fs.shared_dir, dir);
  EXPECT_FALSE(plan->shares[0].fs.readonly);
  EXPECT_EQ(plan->shares[0].fs.cache, CachePolicy::kCoherent);
  EXPECT_EQ(plan->shares[1].tag, "bind1");
  EXPECT_TRUE(plan->shares[1].fs.readonly);
  ASSERT_EQ(plan->mounts.size(), 4u);
  EXPECT_EQ(plan->mounts[0].share, "");
  EXPECT_EQ(plan->mounts[0].source, "proc");
  EXPECT_EQ(plan->mounts[1].share, "bind0");
  EXPECT_EQ(plan->mounts[1].source, "");
  EXPECT_EQ(plan->mounts[2].share, "bind0");
  EXPECT_EQ(plan->mounts[2].source, "file.conf");
  EXPECT_EQ(plan->mounts[3].share, "bind1");
}

TEST(PlanMounts, MissingSourceNamesTheMount) {
  auto plan = plan_mounts({{"/x", "bind", "/nonexistent/runvm", {"bind"}}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message, "mounts[0].source: \"/nonexistent/runvm\" does not exist");
}

}  // namespace
}  // namespace runvm
