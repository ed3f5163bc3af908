// A container whose QEMU or shim is killed with SIGKILL: `state` reports it
// stopped, and `delete` leaves no process, file, socket or mount behind.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "spec/base/json.h"
#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

// Alive and not a zombie (an orphan shim is reaped by init, later).
bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  return std::getline(stat, line) && line.find(") Z") == std::string::npos;
}

bool mounted_under(const std::string& path) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mounts, line))
    if (line.find(path) != std::string::npos) return true;
  return false;
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_VM_ASSETS();
    bundle_ = std::make_unique<Bundle>(testing::BundleSpec{.args = {"sleep", "600"}});
    // The shim keeps run's stdio (the container's): not captured here.
    std::string cmd;
    for (const auto& a : runvm({"run", "-d", "-b", bundle_->dir(), "cr"})) cmd += a + " ";
    ASSERT_EQ(system((cmd + "</dev/null >/dev/null 2>&1").c_str()), 0);
    auto state = json::Document::parse(run_command(runvm({"state", "cr"})).out);
    ASSERT_TRUE(state.ok());
    shim_ = static_cast<pid_t>(*(*state->root().at("pid")).as_int());
    // The shim's command line names QEMU too.
    for (pid_t p : testing::qemu_processes_mentioning(root_.path()))
      if (p != shim_) qemu_ = p;
    ASSERT_GT(qemu_, 0);
  }
  void TearDown() override {
    if (bundle_) (void)run_command(runvm({"delete", "--force", "cr"}));
  }
  std::vector<std::string> runvm(std::vector<std::string> args) const {
    auto argv = testing::runvm_argv(root_.path(), args);
    return argv;
  }
  std::string status() {
    auto doc = json::Document::parse(run_command(runvm({"state", "cr"})).out);
    if (!doc.ok()) return "";
    auto s = doc->root().at("status");
    return s.ok() ? s->as_string().value_or("") : "";
  }
  bool becomes_stopped() {
    for (int i = 0; i < 300; ++i) {
      if (status() == "stopped") return true;
      usleep(100 * 1000);
    }
    return false;
  }
  void expect_delete_cleans_up() {
    auto del = run_command(runvm({"delete", "cr"}));
    EXPECT_TRUE(WIFEXITED(del.status) && WEXITSTATUS(del.status) == 0) << del.err;
    EXPECT_EQ(del.err, "");
    EXPECT_TRUE(root_.entries().empty());  // state and socket directories
    for (int i = 0; i < 50 && (running(shim_) || running(qemu_)); ++i) usleep(100 * 1000);
    EXPECT_FALSE(running(shim_));
    EXPECT_FALSE(running(qemu_));
    EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
    EXPECT_FALSE(mounted_under(root_.path()));
    EXPECT_FALSE(mounted_under(bundle_->dir()));
  }
  TempDir root_;
  std::unique_ptr<Bundle> bundle_;
  pid_t shim_ = -1, qemu_ = -1;
};

TEST_F(CrashTest, KilledQemuMeansStoppedAndDeleteCleansUp) {
  ASSERT_EQ(status(), "running");
  ASSERT_EQ(kill(qemu_, SIGKILL), 0);
  EXPECT_TRUE(becomes_stopped()) << status();
  auto state = run_command(runvm({"state", "cr"}));
  EXPECT_NE(state.out.find("\"pid\": 0"), std::string::npos) << state.out;
  expect_delete_cleans_up();
}

TEST_F(CrashTest, KilledShimMeansStoppedAndDeleteCleansUp) {
  ASSERT_EQ(status(), "running");
  ASSERT_EQ(kill(shim_, SIGKILL), 0);
  EXPECT_TRUE(becomes_stopped()) << status();
  expect_delete_cleans_up();
}

}  // namespace
}  // namespace runvm
