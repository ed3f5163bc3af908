#include "shim/engine/accel.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

namespace fs = std::filesystem;

// A throwaway root with just the files accelerator detection reads.
class FakeRoot {
 public:
  FakeRoot() {
    fs::create_directories(dir_ / "proc");
    fs::create_directories(dir_ / "dev");
    fs::create_directories(dir_ / "sys/module");
  }
  std::string path() const { return dir_.string(); }

  void cpu_flags(const std::string& flags) {
    std::ofstream(dir_ / "proc/cpuinfo") << "processor\t: 0\nvendor_id\t: GenuineIntel\n"
                                         << "flags\t\t: " << flags << "\n\n";
  }
  void dev_kvm() { std::ofstream(dir_ / "dev/kvm").put('\0'); }
  // A directory: O_RDWR fails even for root (EISDIR).
  void dev_kvm_unopenable() { fs::create_directories(dir_ / "dev/kvm"); }
  void kvm_pvm() { fs::create_directories(dir_ / "sys/module/kvm_pvm/parameters"); }

 private:
  testing::TempDir tmp_{"runvm-accel"};
  const fs::path dir_ = tmp_.path();
};

TEST(ParseAccel, AcceptsTheThreeModes) {
  EXPECT_EQ(*parse_accel("auto"), AccelMode::kAuto);
  EXPECT_EQ(*parse_accel("kvm"), AccelMode::kKvm);
  EXPECT_EQ(*parse_accel("tcg"), AccelMode::kTcg);
  auto bad = parse_accel("hvf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("hvf"), std::string::npos);
}

TEST(ChooseAccel, AutoPicksKvmOnRealHardwareVirtualization) {
  FakeRoot root;
  root.cpu_flags("fpu vme de pse vmx sse");
  root.dev_kvm();
  auto c = choose_accel(AccelMode::kAuto, root.path());
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->kvm) << c->reason;
  EXPECT_NE(c->reason.find("kvm"), std::string::npos);
}

TEST(ChooseAccel, AutoAcceptsAmdSvm) {
  FakeRoot root;
  root.cpu_flags("fpu svm sse");
  root.dev_kvm();
  EXPECT_TRUE(choose_accel(AccelMode::kAuto, root.path())->kvm);
}

TEST(ChooseAccel, AutoFallsBackWithoutDevKvm) {
  FakeRoot root;
  root.cpu_flags("fpu vmx");
  auto c = choose_accel(AccelMode::kAuto, root.path());
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->kvm);
  EXPECT_NE(c->reason.find("/dev/kvm"), std::string::npos) << c->reason;
  EXPECT_NE(c->reason.find("using tcg"), std::string::npos) << c->reason;
}

TEST(ChooseAccel, AutoFallsBackWhenDevKvmCannotBeOpenedReadWrite) {
  FakeRoot root;
  root.cpu_flags("fpu vmx");
  root.dev_kvm_unopenable();
  auto c = choose_accel(AccelMode::kAuto, root.path());
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->kvm);
  EXPECT_NE(c->reason.find("/dev/kvm"), std::string::npos) << c->reason;
}

TEST(ChooseAccel, AutoFallsBackWithoutVmxOrSvm) {
  FakeRoot root;
  root.cpu_flags("fpu vme vmxnet svmlike");  // substrings must not count
  root.dev_kvm();
  auto c = choose_accel(AccelMode::kAuto, root.path());
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->kvm);
  EXPECT_NE(c->reason.find("vmx/svm"), std::string::npos) << c->reason;
}

TEST(ChooseAccel, AutoFallsBackUnderNestedPvm) {
  FakeRoot root;
  root.cpu_flags("fpu vmx");
  root.dev_kvm();
  root.kvm_pvm();
  auto c = choose_accel(AccelMode::kAuto, root.path());
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->kvm);
  EXPECT_EQ(c->reason, "kvm_pvm loaded (nested PVM): using tcg");
}

TEST(ChooseAccel, AutoFallsBackWithoutCpuinfo) {
  FakeRoot root;
  root.dev_kvm();
  auto c = choose_accel(AccelMode::kAuto, root.path());
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->kvm);
  EXPECT_NE(c->reason.find("cpuinfo"), std::string::npos) << c->reason;
}

TEST(ChooseAccel, ForcedKvmFailsNamingWhy) {
  FakeRoot root;
  root.cpu_flags("fpu vmx");
  root.dev_kvm();
  root.kvm_pvm();
  auto c = choose_accel(AccelMode::kKvm, root.path());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("kvm_pvm"), std::string::npos) << c.error().message;
}

TEST(ChooseAccel, ForcedKvmSucceedsWhenUsable) {
  FakeRoot root;
  root.cpu_flags("vmx");
  root.dev_kvm();
  auto c = choose_accel(AccelMode::kKvm, root.path());
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->kvm);
}

TEST(ChooseAccel, TcgIsAlwaysTcg) {
  FakeRoot root;
  root.cpu_flags("vmx");
  root.dev_kvm();
  auto c = choose_accel(AccelMode::kTcg, root.path());
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->kvm);
}

// The real host, whatever it is (no skip): auto picks KVM exactly where
// forcing KVM is accepted, and never under nested PVM.
TEST(ChooseAccel, RealRootPicksKvmOnlyWhereForcedKvmIsAccepted) {
  auto c = choose_accel(AccelMode::kAuto);
  ASSERT_TRUE(c.ok());
  auto forced = choose_accel(AccelMode::kKvm);
  EXPECT_EQ(c->kvm, forced.ok()) << c->reason;
  if (fs::exists("/sys/module/kvm_pvm")) {
    EXPECT_FALSE(c->kvm) << c->reason;
  }
}

}  // namespace
}  // namespace runvm
