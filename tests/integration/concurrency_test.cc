// Callers racing a `create` of the same container (issue 15): a `delete -f`
// that arrives while create is still at work used to remove the half-made
// container under it. create holds the container's lock until its state is
// final; delete and start wait for it. A createRuntime hook that waits for
// the test holds create at a known point, so the race is deterministic.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "spec/base/json.h"
#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using namespace std::chrono_literals;
using testing::Bundle;
using testing::read_file;
using testing::TempDir;

class ConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override { RUNVM_REQUIRE_VM_ASSETS(); }
  // A bundle whose createRuntime hook (run by create, under the lock, once
  // the VM is up) says it holds create, waits for release(), then exits
  // with `hook_exit`.
  std::unique_ptr<Bundle> held_bundle(int hook_exit) {
    std::string script = "touch " + io_.path() + "/held; while [ ! -e " + io_.path() +
                         "/release ]; do sleep 0.05; done; exit " + std::to_string(hook_exit);
    json::Writer w;
    w.begin_object().key("createRuntime").begin_array().begin_object();
    w.key("path").string("/bin/sh");
    w.key("args").begin_array().string("sh").string("-c").string(script).end_array();
    w.end_object().end_array().end_object();
    return std::make_unique<Bundle>(
        testing::BundleSpec{.args = {"echo", "hi"}, .config_json = "\"hooks\":" + w.str()});
  }
  bool wait_held() {
    for (int i = 0; i < 1200; ++i, usleep(50 * 1000))
      if (std::filesystem::exists(io_.path() + "/held")) return true;
    return false;
  }
  void release() { std::ofstream(io_.path() + "/release") << "go"; }
  // `runvm <args>` in the background, its stdio files (a create leaves a
  // shim that keeps what it inherits); the future is its exit code.
  std::future<int> background(const std::string& args, const std::string& name) {
    std::string cmd;
    for (auto& a : testing::runvm_argv(root_.path(), {})) cmd += a + " ";
    cmd += args + " </dev/null >" + io_.path() + "/" + name + ".out 2>" + io_.path() + "/" + name +
           ".err";
    return std::async(std::launch::async, [cmd] {
      int s = system(cmd.c_str());
      return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
    });
  }
  std::string err(const std::string& name) { return read_file(io_.path() + "/" + name + ".err"); }
  static bool finished(std::future<int>& f) { return f.wait_for(0s) == std::future_status::ready; }
  void expect_clean() {
    EXPECT_TRUE(root_.entries().empty()) << "state left under " << root_.path();
    for (int i = 0; i < 50 && !testing::qemu_processes_mentioning(root_.path()).empty(); ++i)
      usleep(100 * 1000);
    EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty()) << "QEMU left running";
  }
  TempDir root_, io_;
};

TEST_F(ConcurrencyTest, DeleteDuringCreateWaitsAndCreateSucceeds) {
  auto b = held_bundle(0);
  auto create = background("create -b " + b->dir() + " c1", "create");
  ASSERT_TRUE(wait_held()) << err("create");
  auto del = background("delete -f c1", "delete");
  // Before the fix delete removed the container here, in well under this.
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(finished(del)) << "delete did not wait for create: " << err("delete");
  EXPECT_TRUE(std::filesystem::exists(root_.path() + "/c1/state.json"));
  release();
  EXPECT_EQ(create.get(), 0) << err("create");
  EXPECT_EQ(del.get(), 0) << err("delete");
  EXPECT_EQ(err("delete"), "");
  expect_clean();
}

TEST_F(ConcurrencyTest, DeleteDuringAFailingCreateFindsNothingToRemove) {
  auto b = held_bundle(3);
  auto create = background("create -b " + b->dir() + " c1", "create");
  ASSERT_TRUE(wait_held()) << err("create");
  auto del = background("delete -f c1", "delete");
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(finished(del)) << err("delete");
  release();
  EXPECT_EQ(create.get(), 1);
  EXPECT_EQ(err("create").rfind("runvm: create c1: createRuntime hook #0: exit status 3", 0), 0u)
      << err("create");
  // As runc: a forced delete of a container that is not there succeeds.
  EXPECT_EQ(del.get(), 0) << err("delete");
  expect_clean();
}

TEST_F(ConcurrencyTest, StartDuringCreateWaitsThenRunsIt) {
  auto b = held_bundle(0);
  auto create = background("create -b " + b->dir() + " c1", "create");
  ASSERT_TRUE(wait_held()) << err("create");
  // state does not wait: the shim is up, the container reads created.
  auto st = testing::run_command(testing::runvm_argv(root_.path(), {"state", "c1"}));
  EXPECT_NE(st.out.find("\"status\": \"created\""), std::string::npos) << st.out << st.err;
  auto start = background("start c1", "start");
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(finished(start)) << err("start");
  release();
  EXPECT_EQ(create.get(), 0) << err("create");
  EXPECT_EQ(start.get(), 0) << err("start");
  auto del = background("delete -f c1", "delete2");
  EXPECT_EQ(del.get(), 0) << err("delete2");
  expect_clean();
}

}  // namespace
}  // namespace runvm
