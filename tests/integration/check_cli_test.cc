// `runvm check` end to end: the real binary boots a real VM.
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "shim/engine/accel.h"
#include "tests/integration/vm_fixture.h"

namespace runvm {
namespace {

struct Output {
  int status;
  std::string out, err;
};

Output run(const std::string& cmd) {
  testing::TempDir tmp;
  std::string full = cmd + " >" + tmp.path() + "/out 2>" + tmp.path() + "/err";
  Output o;
  o.status = system(full.c_str());
  auto slurp = [](const std::string& p) {
    std::string s;
    if (FILE* f = fopen(p.c_str(), "r")) {
      std::array<char, 4096> buf;
      size_t n;
      while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) s.append(buf.data(), n);
      fclose(f);
    }
    return s;
  };
  o.out = slurp(tmp.path() + "/out");
  o.err = slurp(tmp.path() + "/err");
  return o;
}

std::string runvm_bin() { return testing::vm_assets().build_dir + "/runtime/runvm"; }

TEST(CheckCli, BootsAndReports) {
  RUNVM_REQUIRE_VM_ASSETS();
  // check's default is --accel auto: whatever this host resolves it to (tcg
  // on nested PVM, kvm on real hardware virtualization), with its reason.
  auto accel = choose_accel(AccelMode::kAuto);
  ASSERT_TRUE(accel.ok()) << accel.error().message;
  const std::string accel_line =
      std::string("\naccel:   ") + (accel->kvm ? "kvm" : "tcg") + " (" + accel->reason + ")\n";
  testing::TempDir root;
  auto o = run(runvm_bin() + " --root " + root.path() + " check --pings 10");
  ASSERT_TRUE(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0) << o.out << o.err;
  EXPECT_NE(o.out.find(accel_line), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("boot_to_agent_ms: "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\nok\n"), std::string::npos) << o.out;
  EXPECT_TRUE(root.entries().empty()) << "check left state behind";
}

TEST(CheckCli, MissingKernelIsOneClearLine) {
  testing::TempDir root;
  auto o = run(runvm_bin() + " --root " + root.path() + " check --kernel /nonexistent/vmlinux");
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), 1);
  EXPECT_EQ(o.err, "runvm: check: guest kernel /nonexistent/vmlinux: No such file or directory\n");
  EXPECT_TRUE(root.entries().empty());
}

// On a host where KVM is unusable (nested PVM, no /dev/kvm, no vmx/svm),
// --accel kvm is one clear error line; where it is usable, it boots with it.
TEST(CheckCli, ForcedKvmFailsClearlyWhereUnusable) {
  const bool kvm_usable = choose_accel(AccelMode::kKvm).ok();
  if (kvm_usable) RUNVM_REQUIRE_VM_ASSETS();
  testing::TempDir root;
  auto o = run(runvm_bin() + " --root " + root.path() + " check --accel kvm");
  ASSERT_TRUE(WIFEXITED(o.status));
  if (kvm_usable) {
    EXPECT_EQ(WEXITSTATUS(o.status), 0) << o.out << o.err;
    EXPECT_NE(o.out.find("accel:   kvm"), std::string::npos) << o.out;
    return;
  }
  EXPECT_EQ(WEXITSTATUS(o.status), 1);
  EXPECT_EQ(o.err.rfind("runvm: check: accel: ", 0), 0u) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
}

}  // namespace
}  // namespace runvm
