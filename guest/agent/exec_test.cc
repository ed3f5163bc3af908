// exec requests against the real Agent (container_fixture.h: no VM, the
// agent is PID 1 of fresh namespaces): the exec'd process runs in the
// container's root with its own stdio and reports its own exit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "guest/agent/container_fixture.h"
#include "tests/support/require.h"

namespace runvm::agent {
namespace {

using testing::AgentProcess;
using testing::Host;
using testing::HostPort;
using testing::read_all;

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_ROOT("mounts, namespaces");
    agent_ = std::make_unique<AgentProcess>();
    ASSERT_EQ(agent_->setup_error(), "");
    std::ofstream(agent_->rootfs() + "/marker") << "root of c1\n";
    ASSERT_TRUE(host().create(AgentProcess::request("c1", {"sleep", "60"})).ok);
    ASSERT_TRUE(host().start("c1").ok);
  }
  Host& host() { return agent_->host(); }

  proto::Exec request(std::vector<std::string> args) {
    proto::Exec e;
    e.container_id = "c1";
    e.exec_id = "e1";
    e.process.args = std::move(args);
    e.process.env = {"PATH=/bin", "FOO=bar"};
    return e;
  }

  // The wait status of e1's exit.
  std::optional<uint32_t> e1_exit() { return host().exec_status("c1", "e1", 10000); }

  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(ExecTest, RunsInTheContainerRootWithItsOwnStdioAndExit) {
  HostPort out = agent_->listen(), err = agent_->listen();
  auto req = request({"sh", "-c", "echo $FOO; cat /marker >&2; exit 5"});
  req.stdio = {0, out.port, err.port};
  auto st = host().exec(req);
  ASSERT_TRUE(st.ok) << st;
  auto out_fd = out.accept();
  auto err_fd = err.accept();
  ASSERT_TRUE(out_fd.ok() && err_fd.ok());
  EXPECT_EQ(read_all(out_fd->get()), "bar\n");
  EXPECT_EQ(read_all(err_fd->get()), "root of c1\n");
  auto status = e1_exit();
  ASSERT_TRUE(status) << "no exit of c1's e1";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 5) << *status;
  EXPECT_FALSE(host().exit_status("c1", 0)) << "the main process still runs";
  // The exec id is free again once its exit was sent.
  EXPECT_TRUE(host().exec(request({"true"})).ok);
}

// Its stdio outlives the exit report: what a child it left behind writes
// still reaches the host, then EOF (as the caller's pipe would under runc).
TEST_F(ExecTest, OutputOfChildrenItLeftArrivesAfterItsExit) {
  HostPort out = agent_->listen();
  auto req = request({"sh", "-c", "(sleep 1; echo late) & echo early"});
  req.stdio.stdout_port = out.port;
  ASSERT_TRUE(host().exec(req).ok);
  auto out_fd = out.accept();
  ASSERT_TRUE(out_fd.ok());
  ASSERT_TRUE(e1_exit()) << "no exit of c1's e1";
  EXPECT_EQ(read_all(out_fd->get()), "early\nlate\n");
}

TEST_F(ExecTest, SignalReachesTheExecNotTheMainProcess) {
  ASSERT_TRUE(host().exec(request({"sleep", "60"})).ok);
  ASSERT_TRUE(host().signal("c1", SIGTERM, false, "e1").ok);
  auto status = e1_exit();
  ASSERT_TRUE(status) << "no exit of c1's e1";
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM) << *status;
  EXPECT_FALSE(host().exit_status("c1", 0));
  EXPECT_EQ(host().signal("c1", SIGTERM, false, "e1").error, "exec process \"e1\" does not exist");
}

TEST_F(ExecTest, RefusalsUseRuncWording) {
  auto missing = host().exec(request({"nope"}));
  ASSERT_FALSE(missing.ok);
  EXPECT_EQ(missing.error, "exec: \"nope\": executable file not found in $PATH");
  EXPECT_EQ(missing.exit_code, 127u);  // the shell's "command not found"
  auto other = request({"true"});
  other.container_id = "c2";
  EXPECT_EQ(host().exec(other).error, "container \"c2\" does not exist");
  ASSERT_TRUE(host().exec(request({"sleep", "60"})).ok);
  EXPECT_EQ(host().exec(request({"true"})).error, "exec id exists: e1");
  ASSERT_TRUE(host().signal("c1", SIGKILL).ok);
  ASSERT_TRUE(host().exit_status("c1", 10000));
  auto late = request({"true"});
  late.exec_id = "e2";
  EXPECT_EQ(host().exec(late).error, "cannot exec in a stopped container");
}

}  // namespace
}  // namespace runvm::agent
