#include "runtime/hooks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace runvm::cli {
namespace {

class HooksTest : public ::testing::Test {
 protected:
  oci::Hook sh(const std::string& script, std::vector<std::string> env = {}) {
    return oci::Hook{"/bin/sh", {"sh", "-c", script}, std::move(env), std::nullopt};
  }
  std::string read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  testing::TempDir tmp_{"runvm-hooks"};
  const std::string dir_ = tmp_.path();
};

TEST_F(HooksTest, StateOnStdinArgsAndEnvAsGiven) {
  auto r = run_hook(sh("cat > " + dir_ + "/in; echo \"$0 $FOO\" > " + dir_ + "/env", {"FOO=bar"}),
                    R"({"id":"c1"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(read("in"), R"({"id":"c1"})");
  EXPECT_EQ(read("env"), "sh bar\n");
}

TEST_F(HooksTest, EmptyEnvInheritsOursAsRuncDoes) {
  setenv("RUNVM_HOOK_TEST", "inherited", 1);
  ASSERT_TRUE(run_hook(sh("echo $RUNVM_HOOK_TEST > " + dir_ + "/env"), "{}").ok());
  EXPECT_EQ(read("env"), "inherited\n");
}

TEST_F(HooksTest, FailureCarriesStatusAndOutputOnOneLine) {
  auto r = run_hooks("createRuntime",
                     {sh("true"), sh("echo to-out; echo 'two\nlines' >&2; exit 3")}, "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "createRuntime hook #1: exit status 3, stdout: to-out, stderr: two lines");
}

TEST_F(HooksTest, HookIgnoringStdinIsFine) {
  std::string big(1 << 20, 'x');  // more than a pipe holds
  EXPECT_TRUE(run_hook(sh("exit 0"), big).ok());
}

TEST_F(HooksTest, TimeoutKillsTheHook) {
  auto h = sh("sleep 30");
  h.timeout = 1;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_hook(h, "{}");
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "hook ran past specified timeout of 1.0s");
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(HooksTest, MissingBinaryIsAnExecError) {
  auto r = run_hook(oci::Hook{dir_ + "/nope", {}, {}, std::nullopt}, "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "exec " + dir_ + "/nope: No such file or directory");
}

TEST_F(HooksTest, WarnVariantRunsEveryHook) {
  run_hooks_warn("poststop", {sh("exit 1"), sh("touch " + dir_ + "/second")}, "{}");
  EXPECT_EQ(access((dir_ + "/second").c_str(), F_OK), 0);
}

TEST_F(HooksTest, HookStateOmitsPidOnceStopped) {
  Container c{ContainerDir(dir_, "c1"), {}};
  c.state.oci_version = "1.0.2";
  c.state.id = "c1";
  c.state.pid = 42;
  c.state.bundle = "/b";
  EXPECT_EQ(hook_state(c, oci::Status::kCreating),
            R"({"ociVersion":"1.0.2","id":"c1","status":"creating","pid":42,"bundle":"/b"})");
  EXPECT_EQ(hook_state(c, oci::Status::kStopped),
            R"({"ociVersion":"1.0.2","id":"c1","status":"stopped","bundle":"/b"})");
}

TEST_F(HooksTest, PrestartSeesCreatedAndCreateRuntimeCreating) {
  Container c{ContainerDir(dir_, "c1"), {}};
  c.state.oci_version = "1.0.2";
  c.state.id = "c1";
  c.state.pid = 42;
  c.state.bundle = "/b";
  oci::Hooks hooks;
  hooks.prestart = {sh("cat > " + dir_ + "/prestart")};
  hooks.create_runtime = {sh("cat > " + dir_ + "/create_runtime")};
  ASSERT_TRUE(run_create_hooks(c, hooks).ok());
  EXPECT_NE(read("prestart").find(R"("status":"created")"), std::string::npos) << read("prestart");
  EXPECT_NE(read("create_runtime").find(R"("status":"creating")"), std::string::npos)
      << read("create_runtime");
}

}  // namespace
}  // namespace runvm::cli
