#include "shim/container/vm_settings.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

namespace fs = std::filesystem;

oci::Config with(std::map<std::string, std::string> annotations) {
  oci::Config c;
  c.annotations = std::move(annotations);
  return c;
}

TEST(VmSettings, AnnotationsOverrideTheDefaults) {
  MachineConfig vm;
  vm.cmdline_extra = "net.ifnames=0";
  vm.kvm = true;
  std::string reason;
  ASSERT_TRUE(apply_vm_settings(with({{"runvm.io/memory", "1G"},
                                      {"runvm.io/vcpus", "3"},
                                      {"runvm.io/accel", "tcg"},
                                      {"runvm.io/kernel-cmdline", "loglevel=7"}}),
                                vm, &reason)
                  .ok());
  EXPECT_EQ(vm.memory_mib, 1024u);
  EXPECT_EQ(vm.vcpus, 3u);
  EXPECT_FALSE(vm.kvm);
  EXPECT_FALSE(reason.empty());
  EXPECT_EQ(vm.cmdline_extra, "net.ifnames=0 loglevel=7");
}

TEST(VmSettings, NoAnnotationsChangeNothing) {
  MachineConfig vm;
  vm.kvm = true;
  ASSERT_TRUE(apply_vm_settings(with({{"org.example", "x"}}), vm, nullptr).ok());
  EXPECT_EQ(vm.memory_mib, 256u);
  EXPECT_EQ(vm.vcpus, 1u);
  EXPECT_TRUE(vm.kvm);
  EXPECT_EQ(vm.cmdline_extra, "");
}

TEST(VmSettings, KvmThatIsNotThereFailsNamingTheAnnotation) {
  testing::TempDir tmp("runvm-vm-settings");
  const fs::path root = tmp.path();
  fs::create_directories(root / "proc");
  fs::create_directories(root / "dev");
  std::ofstream(root / "proc/cpuinfo") << "processor\t: 0\nflags\t\t: fpu sse\n\n";
  MachineConfig vm;
  auto s = apply_vm_settings(with({{"runvm.io/accel", "kvm"}}), vm, nullptr, root.string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.rfind("annotations[\"runvm.io/accel\"]: ", 0), 0u)
      << s.error().message;
  auto bad = apply_vm_settings(with({{"runvm.io/vcpus", "x"}}), vm, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "annotations[\"runvm.io/vcpus\"]: \"x\" is not an integer between 1 and 64");
}

}  // namespace
}  // namespace runvm
