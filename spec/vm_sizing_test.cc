#include "spec/vm_sizing.h"

#include <gtest/gtest.h>

namespace runvm::oci {
namespace {

constexpr VmSize kDefaults{256, 1};

Config with_resources(Resources r, std::map<std::string, std::string> annotations = {}) {
  Config c;
  c.annotations = std::move(annotations);
  c.linux_.emplace().resources = std::move(r);
  return c;
}

Resources memory(int64_t limit) {
  Resources r;
  r.memory.emplace().limit = limit;
  return r;
}

Resources cpu(std::optional<int64_t> quota, std::optional<uint64_t> period, std::string cpus = "") {
  Resources r;
  CpuResources& c = r.cpu.emplace();
  c.quota = quota;
  c.period = period;
  c.cpus = std::move(cpus);
  return r;
}

VmSize size(const Config& c) {
  auto s = size_vm(c, kDefaults);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? *s : VmSize{};
}

TEST(VmSizing, NothingAskedGivesTheDefaults) {
  EXPECT_EQ(size(Config{}), kDefaults);
  EXPECT_EQ(size(with_resources(Resources{})), kDefaults);
  // runc: 0 and negative limits mean none.
  EXPECT_EQ(size(with_resources(memory(0))), kDefaults);
  EXPECT_EQ(size(with_resources(memory(-1))), kDefaults);
  EXPECT_EQ(size(with_resources(cpu(-1, 100000))), kDefaults);
  EXPECT_EQ(size(with_resources(cpu(50000, std::nullopt))), kDefaults);
}

TEST(VmSizing, MemoryLimitSizesTheGuest) {
  EXPECT_EQ(size(with_resources(memory(300ll << 20))).memory_mib, 300u);
  EXPECT_EQ(size(with_resources(memory(2ll << 30))).memory_mib, 2048u);
  // Rounded up to whole MiB: the guest never has less than the container may use.
  EXPECT_EQ(size(with_resources(memory((300ll << 20) + 1))).memory_mib, 301u);
  // The agent needs room: at least 64 MiB; at most 1 TiB.
  EXPECT_EQ(size(with_resources(memory(6ll << 20))).memory_mib, 64u);
  EXPECT_EQ(size(with_resources(memory(INT64_MAX))).memory_mib, 1ull << 20);
  EXPECT_EQ(size(with_resources(memory(300ll << 20))).vcpus, 1u);
}

TEST(VmSizing, CpuQuotaRoundsUpToWholeVcpus) {
  EXPECT_EQ(size(with_resources(cpu(200000, 100000))).vcpus, 2u);
  EXPECT_EQ(size(with_resources(cpu(150000, 100000))).vcpus, 2u);
  EXPECT_EQ(size(with_resources(cpu(50000, 100000))).vcpus, 1u);
  EXPECT_EQ(size(with_resources(cpu(1, 1000000))).vcpus, 1u);
  EXPECT_EQ(size(with_resources(cpu(100000000, 1000))).vcpus, 64u);  // NR_CPUS
  EXPECT_EQ(size(with_resources(cpu(200000, 100000))).memory_mib, 256u);
}

TEST(VmSizing, CpusetCountsAndTheSmallerWins) {
  EXPECT_EQ(size(with_resources(cpu(std::nullopt, std::nullopt, "0-2"))).vcpus, 3u);
  EXPECT_EQ(size(with_resources(cpu(std::nullopt, std::nullopt, "0,2,4-5"))).vcpus, 4u);
  EXPECT_EQ(size(with_resources(cpu(400000, 100000, "1"))).vcpus, 1u);
  EXPECT_EQ(size(with_resources(cpu(100000, 100000, "0-3"))).vcpus, 1u);
}

TEST(VmSizing, AnnotationsOverrideTheResources) {
  Resources r = memory(300ll << 20);
  r.cpu = cpu(400000, 100000).cpu;
  EXPECT_EQ(size(with_resources(r, {{"runvm.io/memory", "1G"}})), (VmSize{1024, 4}));
  EXPECT_EQ(size(with_resources(r, {{"runvm.io/vcpus", "1"}})), (VmSize{300, 1}));
  EXPECT_EQ(size(with_resources(r)), (VmSize{300, 4}));
}

// A CRI pod sandbox (containerd 1.6.7 on): the pod's summed limits size its
// VM, over the pause container's own resources, under runvm.io/*.
TEST(VmSizing, CriSandboxAnnotationsSizeThePod) {
  std::map<std::string, std::string> pod = {{"io.kubernetes.cri.container-type", "sandbox"},
                                            {kCriSandboxMemory, "629145600"},
                                            {kCriSandboxCpuQuota, "150000"},
                                            {kCriSandboxCpuPeriod, "100000"},
                                            {"io.kubernetes.cri.sandbox-cpu-shares", "102"}};
  Resources pause = cpu(std::nullopt, std::nullopt);
  pause.cpu->shares = 2;
  EXPECT_EQ(size(with_resources(pause, pod)), (VmSize{600, 2}));
  // Over the container's own limits too; runvm.io/* over both.
  EXPECT_EQ(size(with_resources(memory(1 << 30), pod)), (VmSize{600, 2}));
  auto annotated = pod;
  annotated["runvm.io/memory"] = "1G";
  annotated["runvm.io/vcpus"] = "3";
  EXPECT_EQ(size(with_resources(pause, annotated)), (VmSize{1024, 3}));
  // 0 (no container has a limit; containerd writes it so) is none; a small
  // pod still gets the floor.
  auto unlimited = pod;
  unlimited[kCriSandboxMemory] = "0";
  unlimited[kCriSandboxCpuQuota] = "0";
  EXPECT_EQ(size(with_resources(pause, unlimited)), kDefaults);
  unlimited[kCriSandboxCpuQuota] = "-1";
  unlimited[kCriSandboxMemory] = "1048576";
  EXPECT_EQ(size(with_resources(pause, unlimited)), (VmSize{64, 1}));
  auto bad = pod;
  bad[kCriSandboxMemory] = "600M";
  auto r = size_vm(with_resources(pause, bad), kDefaults);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "annotations[\"io.kubernetes.cri.sandbox-memory\"]: \"600M\" is not an integer");
}

TEST(VmSizing, ErrorsNameTheAnnotationOrThePath) {
  auto a = size_vm(with_resources(Resources{}, {{"runvm.io/vcpus", "999"}}), kDefaults);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().message.rfind("annotations[\"runvm.io/vcpus\"]", 0), 0u) << a.error().message;
  auto c = size_vm(with_resources(cpu(std::nullopt, std::nullopt, "3-1")), kDefaults);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message,
            "linux.resources.cpu.cpus: \"3-1\" is not a CPU list like \"0-3,5\"");
}

TEST(VmSizing, CpuListParsing) {
  EXPECT_EQ(count_cpu_list("0"), 1u);
  EXPECT_EQ(count_cpu_list("0-63"), 64u);
  EXPECT_EQ(count_cpu_list("1,3,5-7"), 5u);
  for (std::string_view bad :
       {"", ",", "0,", "-1", "1-", "a", "0-x", "2-1", "0--1", " 0", "99999999999", "0-1048577"})
    EXPECT_FALSE(count_cpu_list(bad)) << bad;
}

}  // namespace
}  // namespace runvm::oci
