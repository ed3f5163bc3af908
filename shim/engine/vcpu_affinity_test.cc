#include "shim/engine/vcpu_affinity.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

namespace runvm {
namespace {

std::vector<unsigned> cpus_in(const cpu_set_t& mask) {
  std::vector<unsigned> out;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &mask)) out.push_back(c);
  return out;
}

TEST(CpuMaskFromList, RangesAndSingles) {
  auto m = cpu_mask_from_list("0-2,5,7-7");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(cpus_in(*m), (std::vector<unsigned>{0, 1, 2, 5, 7}));
  auto one = cpu_mask_from_list("0");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(cpus_in(*one), (std::vector<unsigned>{0}));
}

TEST(CpuMaskFromList, RejectsMalformedNamingTheList) {
  for (const char* bad : {"", ",", "1,", "3-1", "a", "1-", "-1", "0-99999", "1024", " 1"}) {
    auto m = cpu_mask_from_list(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_NE(m.error().message.find(std::string("\"") + bad + "\""), std::string::npos)
        << m.error().message;
  }
}

TEST(VcpuThreadsFromQmp, ReadsThreadIds) {
  auto t = vcpu_threads_from_qmp(
      R"([{"cpu-index":0,"thread-id":4242,"qom-path":"/machine/unattached/device[0]","target":"x86_64"},
          {"cpu-index":1,"thread-id":4243,"qom-path":"/x","target":"x86_64"}])");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(*t, (std::vector<pid_t>{4242, 4243}));
}

TEST(VcpuThreadsFromQmp, RejectsHostileReplies) {
  for (const char* bad : {"{}", "[]", "[1]", R"([{"cpu-index":0}])", R"([{"thread-id":"12"}])",
                          R"([{"thread-id":0}])", R"([{"thread-id":-5}])",
                          R"([{"thread-id":99999999999}])", "not json"}) {
    EXPECT_FALSE(vcpu_threads_from_qmp(bad).ok()) << bad;
  }
}

// The mask really reaches the thread: a helper thread pinned to the first
// CPU this process may use reports exactly that CPU.
TEST(PinThreads, SetsTheThreadsAffinity) {
  cpu_set_t mine;
  ASSERT_EQ(sched_getaffinity(0, sizeof(mine), &mine), 0);
  unsigned first = cpus_in(mine).at(0);
  auto mask = cpu_mask_from_list(std::to_string(first));
  ASSERT_TRUE(mask.ok());
  pid_t tid = 0;
  std::atomic<bool> pinned{false}, done{false};
  std::vector<unsigned> seen;
  std::thread t([&] {
    tid = gettid();
    while (!pinned) std::this_thread::yield();
    cpu_set_t now;
    sched_getaffinity(0, sizeof(now), &now);
    seen = cpus_in(now);
    done = true;
  });
  while (tid == 0) std::this_thread::yield();
  auto st = pin_threads({tid}, *mask);
  pinned = true;
  t.join();
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(seen, (std::vector<unsigned>{first}));
  EXPECT_FALSE(pin_threads({0x7ffffff0}, *mask).ok());  // no such thread: ESRCH
}

}  // namespace
}  // namespace runvm
