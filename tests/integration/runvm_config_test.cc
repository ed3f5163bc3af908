// runvm.toml (runvm.toml(5)) through the real runvm binary: its defaults
// size the guest, a container's linux.resources and runvm.io/* annotations
// override them, and a broken file is one line naming the key and its line,
// with nothing booted.
#include "spec/runvm_config.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>

#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

// The guest's MemTotal in KiB and its CPU count, as one line each.
const std::vector<std::string> kProbe = {
    "sh", "-c",
    "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo; "
    "grep -c ^processor /proc/cpuinfo"};

class RunvmConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Explicit asset settings would win over the file's: out of the way.
    for (const char* var : {"RUNVM_CONFIG", "RUNVM_KERNEL", "RUNVM_INITRD", "RUNVM_QEMU"}) {
      if (const char* v = getenv(var)) saved_.emplace_back(var, v);
      unsetenv(var);
    }
  }
  void TearDown() override {
    for (auto& [var, value] : saved_) setenv(var.c_str(), value.c_str(), 1);
    EXPECT_TRUE(root_.entries().empty());
    EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
  }
  std::string write_config(const std::string& text) {
    std::string path = files_.path() + "/runvm.toml";
    std::ofstream(path) << text;
    return path;
  }
  testing::CommandResult runvm(std::vector<std::string> global, std::vector<std::string> args) {
    std::vector<std::string> argv = {runvm_binary(), "--root", root_.path()};
    argv.insert(argv.end(), global.begin(), global.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  // MemTotal in MiB and the CPU count the guest of `bundle` saw.
  std::pair<long, long> guest_size(const testing::CommandResult& r) {
    EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << " " << r.err;
    long kib = 0, cpus = 0;
    sscanf(r.out.c_str(), "%ld\n%ld", &kib, &cpus);
    return {kib / 1024, cpus};
  }
  std::vector<std::pair<std::string, std::string>> saved_;
  TempDir root_, files_;
};

TEST_F(RunvmConfigTest, FileSizesTheGuestAndAnnotationsOverrideIt) {
  RUNVM_REQUIRE_VM_ASSETS();
  std::string config = write_config("[vm]\nmemory_mib = 512\nvcpus = 2\n");
  Bundle b({.args = kProbe});
  // The guest kernel keeps a few MiB of the RAM for itself.
  auto [mib, cpus] = guest_size(runvm({"--config", config}, {"run", "-b", b.dir(), "toml"}));
  EXPECT_GT(mib, 480);
  EXPECT_LE(mib, 512);
  EXPECT_EQ(cpus, 2);
  // Without the file: the built-in default (2048 MiB, 1 vCPU).
  auto [def_mib, def_cpus] = guest_size(runvm({}, {"run", "-b", b.dir(), "builtin"}));
  EXPECT_GT(def_mib, 1900);
  EXPECT_LE(def_mib, 2048);
  EXPECT_EQ(def_cpus, 1);
  // RUNVM_CONFIG names the file too; the container's annotation wins over it.
  Bundle annotated({.args = kProbe, .config_json = R"("annotations":{"runvm.io/memory":"384M"})"});
  setenv("RUNVM_CONFIG", config.c_str(), 1);
  auto [ann_mib, ann_cpus] = guest_size(runvm({}, {"run", "-b", annotated.dir(), "annotated"}));
  unsetenv("RUNVM_CONFIG");
  EXPECT_GT(ann_mib, 352);
  EXPECT_LE(ann_mib, 384);
  EXPECT_EQ(ann_cpus, 2);
}

// The container's linux.resources size the guest over the file's defaults:
// RAM from memory.limit, vCPUs from the CPU quota (spec/vm_sizing.h).
TEST_F(RunvmConfigTest, ResourcesSizeTheGuestOverTheFile) {
  RUNVM_REQUIRE_VM_ASSETS();
  std::string config = write_config("[vm]\nmemory_mib = 512\nvcpus = 1\n");
  Bundle b({.args = kProbe,
            .config_json = R"("linux":{"resources":{"memory":{"limit":314572800},)"
                           R"("cpu":{"quota":200000,"period":100000}}})"});
  auto [mib, cpus] = guest_size(runvm({"--config", config}, {"run", "-b", b.dir(), "sized"}));
  EXPECT_GT(mib, 270);
  EXPECT_LE(mib, 300);
  EXPECT_EQ(cpus, 2);
}

TEST_F(RunvmConfigTest, BrokenFileIsOneLineAndOnlyVerbsThatBootReadIt) {
  std::string config = write_config("[vm]\nvcpus = 1\n\n\n\n\nmemory_mib = \"512\"\n");
  Bundle b({.args = {"true"}});
  for (const char* verb : {"run", "create"}) {
    auto r = runvm({"--config", config}, {verb, "-b", b.dir(), "broken"});
    EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1) << verb;
    EXPECT_EQ(r.err, "runvm: " + config + ":7: vm.memory_mib: must be an integer\n") << verb;
  }
  auto check = runvm({"--config", config}, {"check"});
  EXPECT_EQ(check.err, "runvm: " + config + ":7: vm.memory_mib: must be an integer\n");
  auto help = runvm({"--config", config}, {"create", "--help"});
  EXPECT_TRUE(WIFEXITED(help.status) && WEXITSTATUS(help.status) == 0) << help.err;
  EXPECT_NE(help.out.find("usage: runvm create"), std::string::npos) << help.out;
  // `list`, `state`, `delete` must work whatever the file holds.
  auto list = runvm({"--config", config}, {"list", "-q"});
  EXPECT_TRUE(WIFEXITED(list.status) && WEXITSTATUS(list.status) == 0) << list.err;
  // A file the user names must exist; the default one may be missing.
  std::string missing = files_.path() + "/missing.toml";
  auto r = runvm({"--config", missing}, {"run", "-b", b.dir(), "missing"});
  EXPECT_EQ(r.err, "runvm: " + missing + ": No such file or directory\n");
}

// QEMU's -accel of a running container from each file, NULs as spaces.
TEST_F(RunvmConfigTest, TcgTranslationCacheSizeReachesQemu) {
  RUNVM_REQUIRE_VM_ASSETS();
  Bundle b({.args = {"sleep", "1000"}});
  auto accel_of = [&](const std::string& toml, const std::string& id) {
    // The shim stays: it must not hold the pipes run_command reads to EOF.
    std::string cmd = runvm_binary() + " --root " + root_.path() + " --config " +
                      write_config(toml) + " run -d -b " + b.dir() + " " + id +
                      " </dev/null >/dev/null 2>" + files_.path() + "/err";
    EXPECT_EQ(run_command({"/bin/sh", "-c", cmd}).status, 0)
        << testing::read_file(files_.path() + "/err");
    // The shim's command line names QEMU too: QEMU's is the one with -accel.
    std::string accel = "no qemu";
    for (pid_t pid : testing::qemu_processes_mentioning(root_.path() + "/" + id + "/")) {
      std::string cmdline = testing::read_file("/proc/" + std::to_string(pid) + "/cmdline");
      size_t at = cmdline.find(std::string("\0-accel\0", 8));
      if (at != std::string::npos)
        accel = cmdline.substr(at + 8, cmdline.find('\0', at + 8) - at - 8);
    }
    EXPECT_EQ(runvm({}, {"delete", "-f", id}).status, 0);
    return accel;
  };
  EXPECT_EQ(accel_of("[vm]\naccel = \"tcg\"\ntcg_tb_size = 24\n", "tb24"), "tcg,tb-size=24");
  EXPECT_EQ(accel_of("[vm]\naccel = \"tcg\"\n", "tbdefault"), "tcg,tb-size=64");
  // 0: QEMU's own default, no option.
  EXPECT_EQ(accel_of("[vm]\naccel = \"tcg\"\ntcg_tb_size = 0\n", "tbqemu"), "tcg");
}

TEST_F(RunvmConfigTest, AssetPathsComeFromTheFile) {
  Bundle b({.args = {"true"}});
  auto kernel = runvm({"--config", write_config("[vm]\nkernel = \"/nonexistent/vmlinux\"\n")},
                      {"run", "-b", b.dir(), "kernel"});
  EXPECT_EQ(kernel.err,
            "runvm: run kernel: guest kernel /nonexistent/vmlinux (runvm.toml): No such file or "
            "directory\n");
  auto qemu = runvm({"--config", write_config("[vm]\nqemu = \"/nonexistent/qemu\"\n")},
                    {"run", "-b", b.dir(), "qemu"});
  EXPECT_EQ(qemu.err, "runvm: run qemu: /nonexistent/qemu: No such file or directory\n");
}

}  // namespace
}  // namespace runvm
