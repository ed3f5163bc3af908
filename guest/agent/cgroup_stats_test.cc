#include "guest/agent/cgroup_stats.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm::agent {
namespace {

using KV = std::vector<std::pair<std::string, uint64_t>>;

TEST(CgroupStats, ParsesFlatKeyedFiles) {
  EXPECT_EQ(parse_flat_keyed("usage_usec 10\nuser_usec 7\nsystem_usec 3\n"),
            (KV{{"usage_usec", 10}, {"user_usec", 7}, {"system_usec", 3}}));
  // Bad lines are skipped, not trusted: no value, a negative one, a key
  // that could not be a JSON member we send, a repeat, a missing newline.
  EXPECT_EQ(parse_flat_keyed("a 1\nb\nc -1\nD 2\nd x\n e 3\na 9\nf 18446744073709551615"),
            (KV{{"a", 1}, {"f", UINT64_MAX}}));
  EXPECT_EQ(parse_flat_keyed("g 18446744073709551616\n"), KV{});
  EXPECT_EQ(parse_flat_keyed("a 1\nb 2\nc 3\n", 2), (KV{{"a", 1}, {"b", 2}}));
  EXPECT_EQ(parse_flat_keyed(std::string(65, 'k') + " 1\n"), KV{});
}

TEST(CgroupStats, ParsesLimits) {
  EXPECT_EQ(parse_cgroup_limit("max\n"), 0u);
  EXPECT_EQ(parse_cgroup_limit("134217728\n"), 134217728u);
  EXPECT_EQ(parse_cgroup_limit("12"), 12u);
  EXPECT_EQ(parse_cgroup_limit("12 34\n"), std::nullopt);
  EXPECT_EQ(parse_cgroup_limit(""), std::nullopt);
}

// A directory standing in for a container's cgroup2 directory.
class CgroupStatsTest : public ::testing::Test {
 protected:
  void put(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  testing::TempDir tmp_{"runvm-cgroup-stats"};
  const std::string dir_ = tmp_.path();
};

TEST_F(CgroupStatsTest, ReadsWhatRuncReadsOfACgroup2Directory) {
  put("cpu.stat",
      "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\n"
      "throttled_usec 7\n");
  put("memory.current", "52428800\n");
  put("memory.peak", "62914560\n");
  put("memory.max", "134217728\n");
  put("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
  put("memory.stat", "anon 4096\nfile 8192\n");
  put("pids.current", "3\n");
  put("pids.max", "max\n");
  put("hugetlb.2MB.current", "2097152\n");
  put("hugetlb.2MB.events", "max 1\n");
  put("hugetlb.2MB.max", "max\n");
  auto s = read_cgroup_stats(dir_);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->cpu_usage_ns, 1'500'000u);
  EXPECT_EQ(s->cpu_user_ns, 1'000'000u);
  EXPECT_EQ(s->cpu_system_ns, 500'000u);
  EXPECT_EQ(s->cpu_periods, 10u);
  EXPECT_EQ(s->cpu_throttled_periods, 2u);
  EXPECT_EQ(s->cpu_throttled_ns, 7000u);
  EXPECT_EQ(s->memory_usage, 50ull << 20);
  EXPECT_EQ(s->memory_max_usage, 60ull << 20);
  EXPECT_EQ(s->memory_limit, 128ull << 20);
  EXPECT_EQ(s->memory_failcnt, 4u);
  EXPECT_EQ(s->oom_kills, 1u);
  EXPECT_EQ(s->memory_stat, (KV{{"anon", 4096}, {"file", 8192}}));
  EXPECT_EQ(s->pids_current, 3u);
  EXPECT_EQ(s->pids_limit, 0u);  // max: none
  ASSERT_EQ(s->hugetlb.size(), 1u);
  EXPECT_EQ(s->hugetlb[0], (proto::HugetlbUsage{"2MB", 2 << 20, 1}));
}

TEST_F(CgroupStatsTest, MissingFilesLeaveZeros) {
  put("memory.current", "4096\n");
  auto s = read_cgroup_stats(dir_);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->memory_usage, 4096u);
  EXPECT_EQ(s->cpu_usage_ns, 0u);
  EXPECT_TRUE(s->memory_stat.empty());
  EXPECT_TRUE(s->hugetlb.empty());
  EXPECT_FALSE(read_cgroup_stats(dir_ + "/gone").ok());
}

}  // namespace
}  // namespace runvm::agent
