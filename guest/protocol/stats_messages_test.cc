#include "guest/protocol/stats_messages.h"

#include <gtest/gtest.h>

#include "guest/protocol/messages.h"

namespace runvm::proto {
namespace {

template <class V>
std::string error_of(const Result<V>& r) {
  return r.ok() ? std::string("<ok>") : r.error().message;
}

ContainerStats full_stats() {
  ContainerStats s;
  s.id = 3;
  s.cpu_usage_ns = 1'500'000;
  s.cpu_user_ns = 1'000'000;
  s.cpu_system_ns = 500'000;
  s.cpu_periods = 10;
  s.cpu_throttled_periods = 2;
  s.cpu_throttled_ns = 7000;
  s.memory_usage = 50ull << 20;
  s.memory_max_usage = 60ull << 20;
  s.memory_limit = UINT64_MAX;
  s.memory_failcnt = 1;
  s.memory_stat = {{"anon", 4096}, {"file", 8192}, {"pgfault", 12}};
  s.pids_current = 3;
  s.pids_limit = 100;
  s.hugetlb = {{"2MB", 2 << 20, 1}, {"1GB", 0, 0}};
  s.oom_kills = 2;
  return s;
}

TEST(StatsMessages, RoundTrip) {
  HostMessage req = StatsRequest{5, "web"};
  auto back = parse_host_message(to_json(req));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, req);
  for (AgentMessage m :
       {AgentMessage(full_stats()), AgentMessage(ContainerStats{}), AgentMessage(Oom{"web", 1})}) {
    auto parsed = parse_agent_message(to_json(m));
    ASSERT_TRUE(parsed.ok()) << to_json(m) << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, m) << to_json(m);
  }
}

TEST(StatsMessages, WireFormat) {
  EXPECT_EQ(to_json(StatsRequest{5, "web"}), R"({"type":"stats","id":5,"container_id":"web"})");
  EXPECT_EQ(to_json(Oom{"web", 2}), R"({"type":"oom","container_id":"web","oom_kills":2})");
  ContainerStats s;
  s.id = 1;
  s.memory_usage = 7;
  s.memory_stat = {{"anon", 4}};
  s.hugetlb = {{"2MB", 5, 0}};
  EXPECT_EQ(to_json(s),
            R"({"type":"stats","id":1,"cpu":{"usage_ns":0,"user_ns":0,"system_ns":0,)"
            R"("periods":0,"throttled_periods":0,"throttled_ns":0},"memory":{"usage":7,)"
            R"("max_usage":0,"limit":0,"failcnt":0,"stat":{"anon":4}},"pids":{"current":0,)"
            R"("limit":0},"hugetlb":[{"page_size":"2MB","usage":5,"failcnt":0}],"oom_kills":0})");
}

TEST(StatsMessages, AbsentCountersAreZero) {
  auto m = parse_agent_message(R"({"type":"stats","id":4,"memory":{"usage":10}})");
  ASSERT_TRUE(m.ok()) << m.error().message;
  const auto& s = std::get<ContainerStats>(*m);
  EXPECT_EQ(s.id, 4u);
  EXPECT_EQ(s.memory_usage, 10u);
  EXPECT_EQ(s.cpu_usage_ns, 0u);
  EXPECT_TRUE(s.memory_stat.empty());
}

TEST(StatsMessages, RejectsHostileInput) {
  EXPECT_NE(error_of(parse_host_message(R"({"type":"stats","id":1,"container_id":"../x"})"))
                .find("container_id: must match"),
            std::string::npos);
  EXPECT_NE(error_of(parse_host_message(R"({"type":"stats","id":1})")).find("container_id"),
            std::string::npos);
  struct Case {
    const char* json;
    const char* error;
  } cases[] = {
      {R"({"type":"stats","id":1,"memory":{"usage":-1}})", "memory.usage"},
      {R"({"type":"stats","id":1,"memory":{"usage":1.5}})", "memory.usage"},
      {R"({"type":"stats","id":1,"memory":{"usage":18446744073709551616}})", "memory.usage"},
      {R"({"type":"stats","id":1,"cpu":[]})", "cpu: must be an object"},
      {R"({"type":"stats","id":1,"memory":{"stat":{"Anon":1}}})", "memory.stat: keys"},
      {R"({"type":"stats","id":1,"memory":{"stat":{"a/b":1}}})", "memory.stat: keys"},
      {R"({"type":"stats","id":1,"memory":{"stat":{"":1}}})", "memory.stat: keys"},
      {R"({"type":"stats","id":1,"memory":{"stat":{"a":1,"a":2}}})", "duplicate key a"},
      {R"({"type":"stats","id":1,"hugetlb":[{"page_size":"../x"}]})", "page_size"},
      {R"({"type":"stats","id":1,"hugetlb":{}})", "hugetlb"},
      {R"({"type":"oom","container_id":"web","oom_kills":0})", "oom_kills: must be at least 1"},
      {R"({"type":"oom","container_id":"web"})", "oom_kills"},
  };
  for (const auto& c : cases) {
    std::string r = error_of(parse_agent_message(c.json));
    EXPECT_NE(r.find(c.error), std::string::npos) << c.json << " -> " << r;
  }
  // Bounds: too many stat keys, too many huge page sizes.
  std::string many = R"({"type":"stats","id":1,"memory":{"stat":{)";
  for (size_t i = 0; i <= kMaxMemoryStatKeys; ++i)
    many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":1";
  many += "}}}";
  EXPECT_NE(error_of(parse_agent_message(many)).find("at most 128 keys"), std::string::npos);
  std::string sizes = R"({"type":"stats","id":1,"hugetlb":[)";
  for (size_t i = 0; i <= kMaxHugepageSizes; ++i)
    sizes += (i ? "," : "") + std::string(R"({"page_size":"2MB"})");
  sizes += "]}";
  EXPECT_NE(error_of(parse_agent_message(sizes)).find("at most 8 items"), std::string::npos);
}

}  // namespace
}  // namespace runvm::proto
