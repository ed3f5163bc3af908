// exec requests against the real Agent (container_fixture.h: no VM, the
// agent is PID 1 of fresh namespaces): the exec'd process runs in the
// container's root with its own stdio and reports its own exit.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "guest/agent/container_fixture.h"
#include "tests/support/require.h"

namespace runvm::agent {
namespace {

using testing::AgentProcess;
using testing::HostPort;
using testing::read_all;

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_ROOT("mounts, namespaces");
    agent_ = std::make_unique<AgentProcess>();
    ASSERT_EQ(agent_->setup_error(), "");
    std::ofstream(agent_->rootfs() + "/marker") << "root of c1\n";
    ASSERT_TRUE(client().create(AgentProcess::request("c1", {"sleep", "60"})).ok());
    ASSERT_TRUE(client().start("c1").ok());
  }
  AgentClient& client() { return agent_->client(); }

  proto::Exec request(std::vector<std::string> args) {
    proto::Exec e;
    e.container_id = "c1";
    e.exec_id = "e1";
    e.process.args = std::move(args);
    e.process.env = {"PATH=/bin", "FOO=bar"};
    return e;
  }

  Result<proto::ExecExit> wait_exec_exit(int timeout_ms = 10000) {
    for (;;) {
      if (auto e = client().take_exec_exit()) return *e;
      pollfd p{client().fd(), POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) return make_error("no exec exit");
      RUNVM_CHECK(client().pump());
    }
  }

  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(ExecTest, RunsInTheContainerRootWithItsOwnStdioAndExit) {
  HostPort out = agent_->listen(), err = agent_->listen();
  auto req = request({"sh", "-c", "echo $FOO; cat /marker >&2; exit 5"});
  req.stdio = {0, out.port, err.port};
  auto st = client().exec(req);
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto out_fd = out.accept();
  auto err_fd = err.accept();
  ASSERT_TRUE(out_fd.ok() && err_fd.ok());
  EXPECT_EQ(read_all(out_fd->get()), "bar\n");
  EXPECT_EQ(read_all(err_fd->get()), "root of c1\n");
  auto exit = wait_exec_exit();
  ASSERT_TRUE(exit.ok()) << exit.error().message;
  EXPECT_EQ(exit->container_id, "c1");
  EXPECT_EQ(exit->exec_id, "e1");
  EXPECT_TRUE(WIFEXITED(exit->status) && WEXITSTATUS(exit->status) == 5) << exit->status;
  EXPECT_FALSE(client().take_exit()) << "the main process still runs";
  // The exec id is free again once its exit was sent.
  EXPECT_TRUE(client().exec(request({"true"})).ok());
}

// Its stdio outlives the exit report: what a child it left behind writes
// still reaches the host, then EOF (as the caller's pipe would under runc).
TEST_F(ExecTest, OutputOfChildrenItLeftArrivesAfterItsExit) {
  HostPort out = agent_->listen();
  auto req = request({"sh", "-c", "(sleep 1; echo late) & echo early"});
  req.stdio.stdout_port = out.port;
  ASSERT_TRUE(client().exec(req).ok());
  auto out_fd = out.accept();
  ASSERT_TRUE(out_fd.ok());
  auto exit = wait_exec_exit();
  ASSERT_TRUE(exit.ok()) << exit.error().message;
  EXPECT_EQ(read_all(out_fd->get()), "early\nlate\n");
}

TEST_F(ExecTest, SignalReachesTheExecNotTheMainProcess) {
  ASSERT_TRUE(client().exec(request({"sleep", "60"})).ok());
  ASSERT_TRUE(client().signal_exec("c1", "e1", SIGTERM).ok());
  auto exit = wait_exec_exit();
  ASSERT_TRUE(exit.ok()) << exit.error().message;
  EXPECT_TRUE(WIFSIGNALED(exit->status) && WTERMSIG(exit->status) == SIGTERM) << exit->status;
  EXPECT_FALSE(client().take_exit());
  EXPECT_EQ(client().signal_exec("c1", "e1", SIGTERM).error().message,
            "agent: exec process \"e1\" does not exist");
}

TEST_F(ExecTest, RefusalsUseRuncWording) {
  auto missing = client().exec(request({"nope"}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "exec: \"nope\": executable file not found in $PATH");
  EXPECT_EQ(missing.error().code, ENOENT);
  auto other = request({"true"});
  other.container_id = "c2";
  EXPECT_EQ(client().exec(other).error().message, "container \"c2\" does not exist");
  ASSERT_TRUE(client().exec(request({"sleep", "60"})).ok());
  EXPECT_EQ(client().exec(request({"true"})).error().message, "exec id exists: e1");
  ASSERT_TRUE(client().signal("c1", SIGKILL, false).ok());
  ASSERT_TRUE(client().wait_exit(10000).ok());
  auto late = request({"true"});
  late.exec_id = "e2";
  EXPECT_EQ(client().exec(late).error().message, "cannot exec in a stopped container");
}

}  // namespace
}  // namespace runvm::agent
