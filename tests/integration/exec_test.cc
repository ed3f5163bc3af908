// `runvm exec` on real VMs: a second process in a running container's
// root, its own stdio and exit status, -d with --pid-file, and the errors.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "shim/client/control.h"
#include "spec/base/state_layout.h"
#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

using testing::read_file;

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_VM_ASSETS();
    bundle_ = std::make_unique<Bundle>(testing::BundleSpec{.args = {"sleep", "600"}});
    std::ofstream(bundle_->rootfs() + "/marker") << "in the container\n";
    std::string log = logs_.path() + "/run.log";
    int rc = system(
        (base() + "run -d -b " + bundle_->dir() + " ex </dev/null >" + log + " 2>&1").c_str());
    ASSERT_EQ(rc, 0) << read_file(log);
  }
  void TearDown() override {
    if (bundle_) (void)system((base() + "delete --force ex >/dev/null 2>&1").c_str());
  }
  std::string base() const { return runvm_binary() + " --root " + root_.path() + " "; }
  std::vector<std::string> runvm(std::vector<std::string> args) {
    auto argv = testing::runvm_argv(root_.path(), args);
    return argv;
  }
  TempDir root_, logs_;
  std::unique_ptr<Bundle> bundle_;
};

TEST_F(ExecTest, RunsInTheContainerWithItsOwnStdioAndExitCode) {
  auto r = run_command(
      runvm({"exec", "-e", "FOO=bar", "ex", "sh", "-c", "echo $FOO; cat /marker >&2; exit 5"}));
  ASSERT_TRUE(WIFEXITED(r.status)) << r.status << r.err;
  EXPECT_EQ(WEXITSTATUS(r.status), 5) << r.err;
  EXPECT_EQ(r.out, "bar\n");
  EXPECT_EQ(r.err, "in the container\n");
}

TEST_F(ExecTest, StdinReachesTheProcessAndEofEndsIt) {
  std::string input;
  for (int i = 0; i < 5000; ++i) input += "line " + std::to_string(i) + "\n";
  auto r = run_command(runvm({"exec", "ex", "cat"}), input);
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  EXPECT_EQ(r.out, input);
}

TEST_F(ExecTest, DeathBySignalIsReRaised) {
  auto r = run_command(runvm({"exec", "ex", "sh", "-c", "kill -TERM $$"}));
  ASSERT_TRUE(WIFSIGNALED(r.status)) << r.status << r.err;
  EXPECT_EQ(WTERMSIG(r.status), SIGTERM);
}

TEST_F(ExecTest, DetachWritesThePidThatExitsLikeTheProcess) {
  TempDir tmp;
  std::string pid_file = tmp.path() + "/exec.pid", out = tmp.path() + "/out";
  // The pid standing for the process is a child of ours: wait for it.
  pid_t runvm_pid = fork();
  if (runvm_pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c",
          (base() + "exec -d --pid-file " + pid_file + " ex sh -c 'echo detached; exit 4' " +
           "</dev/null >" + out + " 2>&1")
              .c_str(),
          nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(runvm_pid, &status, 0), runvm_pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::ifstream in(pid_file);
  long pid = 0;
  ASSERT_TRUE(in >> pid) << "no pid file";
  ASSERT_GT(pid, 0);
  // The detached pid outlives `runvm exec` and goes once the process did.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    gone = !std::getline(stat, line) || line.find(") Z") != std::string::npos;
    if (!gone) usleep(50 * 1000);
  }
  EXPECT_TRUE(gone) << "detached exec did not finish";
  std::ifstream output(out);
  std::string text((std::istreambuf_iterator<char>(output)), {});
  EXPECT_EQ(text, "detached\n");
}

TEST_F(ExecTest, UnknownExecutableFailsFastWithOneLine) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_command(runvm({"exec", "ex", "nope"}));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 255) << r.status;  // as runc
  // runc 1.1.5: exec failed: unable to start container process: exec: "nope": ...
  EXPECT_EQ(r.err,
            "runvm: exec ex: unable to start container process: exec: \"nope\": executable file "
            "not found in $PATH\n");
  EXPECT_LT(took, std::chrono::seconds(1));
  // The container is unharmed.
  auto again = run_command(runvm({"exec", "ex", "true"}));
  EXPECT_TRUE(WIFEXITED(again.status) && WEXITSTATUS(again.status) == 0) << again.err;
}

TEST_F(ExecTest, MissingPathExitsAndSaysAsRunc) {
  // runc 1.1.5 exits 255 with: exec failed: unable to start container
  // process: exec: "/no/such": stat /no/such: no such file or directory
  auto r = run_command(runvm({"exec", "ex", "/no/such"}));
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 255) << r.status;
  EXPECT_EQ(r.err,
            "runvm: exec ex: unable to start container process: exec: \"/no/such\": stat "
            "/no/such: no such file or directory\n");
  auto detached = run_command(runvm({"exec", "-d", "ex", "/no/such"}));
  EXPECT_TRUE(WIFEXITED(detached.status) && WEXITSTATUS(detached.status) == 255) << detached.status;
  EXPECT_EQ(detached.err, r.err);
}

TEST_F(ExecTest, ShimsExecReplyCarriesTheExitCode) {
  // The control protocol's ExecReply (shim/client/CONTROL.md), straight from
  // the container's shim: a shell's code for what did not start.
  std::string sock;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root_.path()))
    if (e.path().filename() == layout::kShimSocket) sock = e.path();
  ASSERT_FALSE(sock.empty());
  struct Case {
    const char* path;
    int code;
    std::string message;
  };
  for (const Case& c :
       {Case{"/no/such", 127,
             "unable to start container process: exec: \"/no/such\": stat /no/such: no such "
             "file or directory"},
        Case{"/marker", 126, "unable to start container process: exec: \"/marker\": "}}) {
    control::Exec exec;  // no stdio streams: it never gets that far
    exec.process.args = {c.path};
    auto session = control::open_exec(sock, "ex", exec, 30000);
    ASSERT_TRUE(session.ok()) << session.error().message;
    ASSERT_FALSE(session->reply.status.ok()) << c.path;
    EXPECT_EQ(session->reply.exit_code, c.code) << c.path;
    EXPECT_EQ(session->reply.status.error().message.rfind(c.message, 0), 0u)
        << session->reply.status.error().message;
  }
}

TEST_F(ExecTest, FailuresExitLikeRuncs) {
  // runc: "exec failed: ..." exits 255, a usage error 1.
  auto r = run_command(runvm({"exec", "--pid-file", "/nonexistent-dir/p", "ex", "true"}));
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 255) << r.status << r.err;
  auto usage = run_command(runvm({"exec"}));
  EXPECT_TRUE(WIFEXITED(usage.status) && WEXITSTATUS(usage.status) == 1) << usage.status;
}

TEST_F(ExecTest, StoppedContainerIsRefused) {
  ASSERT_EQ(system((base() + "kill ex KILL").c_str()), 0);
  for (int i = 0; i < 100; ++i) {
    auto s = run_command(runvm({"state", "ex"}));
    if (s.out.find("\"stopped\"") != std::string::npos) break;
    usleep(100 * 1000);
  }
  auto r = run_command(runvm({"exec", "ex", "true"}));
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 255) << r.status;
  EXPECT_EQ(r.err, "runvm: exec ex: cannot exec in a stopped container\n");
}

TEST_F(ExecTest, NoLeftoverStdioSockets) {
  auto r = run_command(runvm({"exec", "ex", "true"}));
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.err;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root_.path()))
    EXPECT_EQ(e.path().filename().string().find(std::string(layout::kVsockSocket) + "_"),
              std::string::npos)
        << e.path();
}

}  // namespace
}  // namespace runvm
