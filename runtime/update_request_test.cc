#include "runtime/update_request.h"

#include <gtest/gtest.h>

namespace runvm::cli {
namespace {

TEST(UpdateRequest, ResourcesJsonListsTheSetFields) {
  auto u = parse_resources_json(
      R"({"memory":{"limit":536870912,"swap":null},"cpu":{"cpus":"0-1","shares":0},)"
      R"("pids":{"limit":0},"blockIO":{"weight":500},"devices":[]})");
  ASSERT_TRUE(u.ok()) << u.error().message;
  std::vector<ResourceUpdate> want = {{"memory.limit", "536870912"},
                                      {"cpu.shares", "0"},
                                      {"cpu.cpus", "0-1"},
                                      {"blockIO.weight", "500"}};
  EXPECT_EQ(*u, want);
  EXPECT_TRUE(parse_resources_json("{}")->empty());
  EXPECT_FALSE(parse_resources_json("[1]").ok());
  EXPECT_FALSE(parse_resources_json(R"({"memory":{"limit":"x"}})").ok());
}

TEST(UpdateRequest, RamInBytesLikeGoUnits) {
  EXPECT_EQ(*parse_ram_in_bytes("1024"), 1024);
  EXPECT_EQ(*parse_ram_in_bytes("512m"), 512LL << 20);
  EXPECT_EQ(*parse_ram_in_bytes("1.5g"), 3LL << 29);
  EXPECT_EQ(*parse_ram_in_bytes("2 KiB"), 2048);
  EXPECT_EQ(*parse_ram_in_bytes("1GB"), 1LL << 30);
  for (const char* bad : {"", "m", "1x", "-1", "1mm"})
    EXPECT_FALSE(parse_ram_in_bytes(bad).ok()) << bad;
}

TEST(UpdateRequest, FlagsMapToSpecFields) {
  EXPECT_EQ(**update_from_flag("memory", "256m"), (ResourceUpdate{"memory.limit", "268435456"}));
  EXPECT_EQ(**update_from_flag("memory-swap", "-1"), (ResourceUpdate{"memory.swap", "-1"}));
  EXPECT_EQ(**update_from_flag("cpu-quota", "50000"), (ResourceUpdate{"cpu.quota", "50000"}));
  EXPECT_FALSE(update_from_flag("pids-limit", "0")->has_value());
  EXPECT_FALSE(update_from_flag("cpuset-cpus", "")->has_value());
  EXPECT_EQ(update_from_flag("cpu-quota", "lots").error().message,
            "invalid value for cpu-quota: lots");
  EXPECT_FALSE(update_from_flag("memory", "huge").ok());
}

TEST(UpdateRequest, OnlyNoOpUpdatesPass) {
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 1 << 20;
  r.cpu = oci::CpuResources{};
  r.cpu->cpus = "0";
  EXPECT_TRUE(check_updates({}, std::nullopt).ok());
  EXPECT_TRUE(check_updates({{"memory.limit", "1048576"}, {"cpu.cpus", "0"}}, r).ok());
  auto e = check_updates({{"memory.limit", "1048576"}, {"pids.limit", "10"}}, r);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "pids.limit: cannot be changed on a running microVM");
  EXPECT_FALSE(check_updates({{"memory.limit", "2"}}, std::nullopt).ok());
}

TEST(UpdateRequest, SwapBesideALimitIsDroppedWhenItAsksForNothing) {
  using U = ResourceUpdate;
  // Podman: swap twice the limit; or -1.
  for (const char* swap : {"536870912", "268435456", "-1"}) {
    auto r = drop_swap_without_effect({{"memory.limit", "268435456"}, {"memory.swap", swap}});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, (std::vector<U>{{"memory.limit", "268435456"}})) << swap;
  }
  auto less = drop_swap_without_effect({{"memory.limit", "268435456"}, {"memory.swap", "1024"}});
  ASSERT_FALSE(less.ok());
  EXPECT_EQ(less.error().message,
            "memory.swap: 1024 is less than memory.limit 268435456 (it counts memory plus swap)");
  // Swap alone is left to check_updates (a field the VM cannot change live).
  auto alone = drop_swap_without_effect({{"memory.swap", "-1"}});
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(alone->size(), 1u);
}

}  // namespace
}  // namespace runvm::cli
