#include "runtime/config_snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm::cli {
namespace {

// runvm update's changes lie over the config the container was created
// from: later verbs see the current limits, earlier changes stay unless
// replaced, and config.json itself is left as created.
TEST(ConfigSnapshot, UpdatesLieOverTheCreatedConfig) {
  testing::TempDir root{"runvm-snapshot"};
  ContainerDir dir(root.path(), "c1");
  std::filesystem::create_directories(dir.path());
  const std::string created =
      R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},)"
      R"("linux":{"resources":{"memory":{"limit":536870912},"cpu":{"quota":50000,"mems":"0"}}}})";
  std::ofstream(dir.file(layout::kConfigFile)) << created;
  auto before = load_config_snapshot(dir);
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_EQ(before->linux_->resources->memory->limit, 536870912);

  ASSERT_TRUE(
      save_resource_updates(dir, {{"memory.limit", "268435456"}, {"cpu.quota", "-1"}}).ok());
  ASSERT_TRUE(save_resource_updates(dir, {{"pids.limit", "20"}, {"cpu.quota", "150000"}}).ok());
  auto after = load_config_snapshot(dir);
  ASSERT_TRUE(after.ok()) << after.error().message;
  const oci::Resources& r = *after->linux_->resources;
  EXPECT_EQ(r.memory->limit, 268435456);
  EXPECT_EQ(r.cpu->quota, 150000);
  EXPECT_EQ(r.cpu->mems, "0");
  EXPECT_EQ(r.pids->limit, 20);
  std::ifstream in(dir.file(layout::kConfigFile));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), created);

  // A damaged record is an error naming it, not silently the old limits.
  std::ofstream(dir.file(layout::kResourceUpdatesFile)) << "{";
  auto damaged = load_config_snapshot(dir);
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.error().message.rfind("resources.json: ", 0), 0u) << damaged.error().message;
}

}  // namespace
}  // namespace runvm::cli
