#include "runtime/stats_json.h"

#include <gtest/gtest.h>

#include "spec/base/json.h"

namespace runvm::cli {
namespace {

TEST(StatsJson, RuncEventShapeWithOurNumbers) {
  HostUsage u{.user_ns = 3000, .kernel_ns = 1000, .rss_bytes = 4096, .processes = 2};
  std::string line = stats_event_json("c1", u);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line, R"({"type":"stats","id":"c1","data":{"cpu":{"usage":{"total":4000,"kernel":1000,)"
                  R"("user":3000},"throttling":{}},"cpuset":{"cpu_exclusive":0,"mem_hardwall":0,)"
                  R"("mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,)"
                  R"("memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,)"
                  R"("sched_relax_domain_level":0},"memory":{"usage":{"limit":0,"usage":4096,)"
                  R"("failcnt":0},"swap":{"limit":0,"failcnt":0},"kernel":{"limit":0,"failcnt":0},)"
                  R"("kernelTCP":{"limit":0,"failcnt":0}},"pids":{"current":2},"blkio":{},)"
                  R"("hugetlb":{},"intel_rdt":{},"network_interfaces":null}})"
                  "\n");
}

TEST(StatsJson, ZeroValuesAreOmittedWhereGoOmitsThem) {
  std::string line = stats_event_json("x", HostUsage{});
  EXPECT_EQ(line.find("\"total\""), std::string::npos);
  EXPECT_NE(line.find("\"usage\":{\"kernel\":0,\"user\":0}"), std::string::npos);
  EXPECT_NE(line.find("\"pids\":{}"), std::string::npos);
  EXPECT_TRUE(json::Document::parse(line).ok());
}

TEST(StatsJson, OomEventIsRuncs) {
  EXPECT_EQ(oom_event_json("web"), "{\"type\":\"oom\",\"id\":\"web\"}\n");
}

}  // namespace
}  // namespace runvm::cli
