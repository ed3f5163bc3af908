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

TEST(UpdateRequest, LivePlanTakesCpuPidsCpusetAndMemory) {
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->quota = 200000;
  r.cpu->period = 50000;
  r.cpu->mems = "0";
  auto plan = plan_live_update({{"cpu.period", "100000"},
                                {"pids.limit", "50"},
                                {"cpu.shares", "512"},
                                {"cpu.cpus", "0-1"},
                                {"memory.limit", "314572800"},
                                {"cpu.mems", "0"}},
                               r);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  // cpu.max is written whole: the quota the container has.
  EXPECT_EQ(plan->cpu_quota, 200000);
  EXPECT_EQ(plan->cpu_period, 100000u);
  EXPECT_EQ(plan->cpu_shares, 512u);
  EXPECT_EQ(plan->pids_limit, 50);
  EXPECT_EQ(plan->cpus, "0-1");
  EXPECT_EQ(plan->memory, 314572800u);
  EXPECT_EQ(plan->changes, (std::vector<ResourceUpdate>{{"cpu.period", "100000"},
                                                        {"pids.limit", "50"},
                                                        {"cpu.shares", "512"},
                                                        {"cpu.cpus", "0-1"},
                                                        {"memory.limit", "314572800"}}));
  // A quota alone on a container without one: the kernel's default period;
  // negative is none; 0 leaves a field as it is (runc).
  auto quota = plan_live_update({{"cpu.quota", "50000"}, {"cpu.shares", "0"}}, std::nullopt);
  ASSERT_TRUE(quota.ok());
  EXPECT_EQ(quota->cpu_period, 100000u);
  EXPECT_FALSE(quota->cpu_shares);
  auto none = plan_live_update({{"cpu.quota", "-5"}, {"pids.limit", "-1"}}, r);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->cpu_quota, -1);
  EXPECT_EQ(none->cpu_period, 50000u);
  EXPECT_EQ(none->pids_limit, -1);
  EXPECT_TRUE(plan_live_update({{"cpu.quota", "0"}}, r)->empty());
}

TEST(UpdateRequest, LivePlanRefusesByFieldName) {
  auto error = [](std::vector<ResourceUpdate> u) {
    auto p = plan_live_update(u, std::nullopt);
    return p.ok() ? std::string("<ok>") : p.error().message;
  };
  EXPECT_EQ(error({{"cpu.period", "500"}}), "cpu.period: 500 is out of range (1000 .. 1000000)");
  EXPECT_EQ(error({{"cpu.quota", "10"}}), "cpu.quota: 10 is out of range (1000 .. 2^40, or -1)");
  EXPECT_EQ(error({{"cpu.shares", "1"}}), "cpu.shares: 1 is out of range (2 .. 262144)");
  EXPECT_EQ(error({{"pids.limit", "99999999"}}),
            "pids.limit: 99999999 is out of range (at most 2^22, or -1)");
  EXPECT_EQ(error({{"cpu.cpus", "0;1"}}), "cpu.cpus: \"0;1\" is not a CPU list");
  EXPECT_EQ(error({{"memory.limit", "-1"}}), "memory.limit: -1 cannot be set on a running microVM");
  // Nothing changes when one field cannot: the fixed one is named.
  EXPECT_EQ(error({{"pids.limit", "5"}, {"cpu.mems", "0"}}),
            "cpu.mems: cannot be changed on a running microVM");
  EXPECT_EQ(error({{"memory.reservation", "1024"}}),
            "memory.reservation: cannot be changed on a running microVM");
}

TEST(UpdateRequest, SnapshotChangesRoundTrip) {
  std::string json = resources_json({{"memory.limit", "1"}, {"cpu.cpus", "0"}},
                                    {{"memory.limit", "2"}, {"pids.limit", "-1"}});
  EXPECT_EQ(json, R"({"memory":{"limit":2},"cpu":{"cpus":"0"},"pids":{"limit":-1}})");
  auto back = parse_resources_json(json);
  ASSERT_TRUE(back.ok());
  oci::Resources r;
  apply_updates(r, *back);
  EXPECT_EQ(r.memory->limit, 2);
  EXPECT_EQ(r.cpu->cpus, "0");
  EXPECT_EQ(r.pids->limit, -1);
  apply_updates(r, {{"cpu.quota", "-1"}, {"cpu.period", "1000"}, {"cpu.shares", "2"}});
  EXPECT_EQ(r.cpu->quota, -1);
  EXPECT_EQ(r.cpu->period, 1000u);
  EXPECT_EQ(r.cpu->shares, 2u);
}

}  // namespace
}  // namespace runvm::cli
