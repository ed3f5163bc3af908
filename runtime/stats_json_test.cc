#include "runtime/stats_json.h"

#include <gtest/gtest.h>

#include "spec/base/json.h"

namespace runvm::cli {
namespace {

proto::ContainerStats guest_stats() {
  proto::ContainerStats g;
  g.cpu_usage_ns = 4000;
  g.cpu_user_ns = 3000;
  g.cpu_system_ns = 1000;
  g.cpu_periods = 5;
  g.cpu_throttled_periods = 1;
  g.cpu_throttled_ns = 2000;
  g.memory_usage = 52428800;
  g.memory_max_usage = 62914560;
  g.memory_limit = 134217728;
  g.memory_stat = {{"anon", 4096}, {"file", 8192}};
  g.pids_current = 2;
  g.pids_limit = 100;
  g.hugetlb = {{"2MB", 2097152, 1}};
  return g;
}

TEST(StatsJson, RuncEventShapeWithGuestNumbers) {
  proto::ContainerStats g = guest_stats();
  HostUsage u{.user_ns = 30, .kernel_ns = 10, .rss_bytes = 4096, .processes = 2};
  std::string line = stats_event_json("c1", &g, u);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line,
            R"({"type":"stats","id":"c1","data":{"cpu":{"usage":{"total":4000,"kernel":1000,)"
            R"("user":3000},"throttling":{"periods":5,"throttled_periods":1,)"
            R"("throttled_time":2000}},"cpuset":{"cpu_exclusive":0,"mem_hardwall":0,)"
            R"("mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,)"
            R"("memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,)"
            R"("sched_relax_domain_level":0},"memory":{"cache":8192,"usage":{"limit":134217728,)"
            R"("usage":52428800,"max":62914560,"failcnt":0},"swap":{"limit":134217728,)"
            R"("usage":52428800,"failcnt":0},"kernel":{"limit":0,"failcnt":0},)"
            R"("kernelTCP":{"limit":0,"failcnt":0},"raw":{"anon":4096,"file":8192}},)"
            R"("pids":{"current":2,"limit":100},"blkio":{},"hugetlb":{"2MB":{"usage":2097152,)"
            R"("failcnt":1}},"intel_rdt":{},"network_interfaces":null,"runvm_host":{)"
            R"("processes":2,"cpu":{"total":40,"kernel":10,"user":30},"rss":4096}}})"
            "\n");
}

TEST(StatsJson, HostCgroupMemoryGoesWithTheHostNumbers) {
  proto::ContainerStats g = guest_stats();
  std::string line =
      stats_event_json("c1", &g, HostUsage{}, HostCgroupMemory{121425920, 536870912});
  EXPECT_NE(line.find(R"("rss":0,"cgroup":{"memory":{"usage":121425920,"limit":536870912}}}}})"),
            std::string::npos)
      << line;
}

TEST(StatsJson, NoLimitIsRuncsLargestValue) {
  proto::ContainerStats g = guest_stats();
  g.memory_limit = 0;
  std::string line = stats_event_json("c1", &g, HostUsage{});
  EXPECT_NE(line.find(R"("usage":{"limit":18446744073709551615,)"), std::string::npos) << line;
}

TEST(StatsJson, WithoutGuestNumbersRuncsSlotsStayEmpty) {
  HostUsage u{.user_ns = 30, .kernel_ns = 10, .rss_bytes = 4096, .processes = 2};
  std::string line = stats_event_json("x", nullptr, u);
  EXPECT_NE(line.find(R"("cpu":{"usage":{"kernel":0,"user":0})"), std::string::npos);
  EXPECT_NE(line.find("\"pids\":{}"), std::string::npos);
  EXPECT_NE(line.find(R"("memory":{"usage":{"limit":0,"failcnt":0},)"), std::string::npos);
  EXPECT_NE(line.find(R"("runvm_host":{"processes":2,"cpu":{"total":40,)"), std::string::npos);
  EXPECT_TRUE(json::Document::parse(line).ok());
}

TEST(StatsJson, OomEventIsRuncs) {
  EXPECT_EQ(oom_event_json("web"), "{\"type\":\"oom\",\"id\":\"web\"}\n");
}

}  // namespace
}  // namespace runvm::cli
