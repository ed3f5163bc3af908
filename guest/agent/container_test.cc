// The agent's containers end to end without a VM (see container_fixture.h):
// real processes, real mounts in private namespaces, real pty relays; the
// test speaks the agent protocol as the host (Host).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "guest/agent/container_fixture.h"
#include "tests/support/require.h"

namespace runvm::agent::testing {
namespace {

constexpr int kExitTimeoutMs = 10000;

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_ROOT("mounts, namespaces");
    agent_ = std::make_unique<AgentProcess>();
    ASSERT_EQ(agent_->setup_error(), "");
  }
  Host& host() { return agent_->host(); }

  // Output of a non-terminal container running `args`: {stdout, stderr, status}.
  struct Run {
    std::string out, err;
    int status = -1;
  };
  Run run(proto::Create req) {
    Run r;
    HostPort out = agent_->listen(), err = agent_->listen();
    req.stdio.stdout_port = out.port;
    req.stdio.stderr_port = err.port;
    auto st = host().create(req);
    EXPECT_TRUE(st.ok) << st;
    if (!st.ok) return r;
    auto out_fd = out.accept();
    auto err_fd = err.accept();
    EXPECT_TRUE(out_fd.ok() && err_fd.ok());
    EXPECT_TRUE(host().start(req.container_id).ok);
    r.out = read_all(out_fd->get());
    r.err = read_all(err_fd->get());
    auto status = host().exit_status(req.container_id, kExitTimeoutMs);
    EXPECT_TRUE(status) << "no exit of " << req.container_id;
    if (status) r.status = static_cast<int>(*status);
    return r;
  }

  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(ContainerTest, StdoutAndStderrAreSeparateStreamsAndExitCodeArrives) {
  auto r = run(AgentProcess::request("c1", {"sh", "-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  ASSERT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 3);
  EXPECT_TRUE(host().ping().ok);  // the agent keeps serving after the exit
}

TEST_F(ContainerTest, NothingRunsBeforeStart) {
  HostPort out = agent_->listen();
  auto req = AgentProcess::request("c", {"echo", "started"});
  req.stdio.stdout_port = out.port;
  ASSERT_TRUE(host().create(req).ok);
  auto fd = out.accept();
  ASSERT_TRUE(fd.ok());
  usleep(200 * 1000);
  EXPECT_EQ(read_available(fd->get()), "");
  EXPECT_FALSE(host().exit_status("c", 0));
  ASSERT_TRUE(host().start("c").ok);
  EXPECT_EQ(read_all(fd->get()), "started\n");
  EXPECT_EQ(host().exit_status("c", kExitTimeoutMs), 0u);
  auto again = host().start("c");
  EXPECT_FALSE(again.ok);
}

TEST_F(ContainerTest, SignalReachesMainProcessAndStatusCarriesIt) {
  auto req = AgentProcess::request("sig", {"sleep", "100"});
  ASSERT_TRUE(host().create(req).ok);
  ASSERT_TRUE(host().start("sig").ok);
  ASSERT_TRUE(host().signal("sig", SIGTERM).ok);
  auto status = host().exit_status("sig", kExitTimeoutMs);
  ASSERT_TRUE(status) << "no exit";
  ASSERT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGTERM);
  auto late = host().signal("sig", SIGTERM);
  ASSERT_FALSE(late.ok);
  EXPECT_NE(late.error.find("not running"), std::string::npos);
  EXPECT_FALSE(host().signal("other", SIGTERM).ok);
}

TEST_F(ContainerTest, KillBeforeStartAndKillAll) {
  ASSERT_TRUE(host().create(AgentProcess::request("a", {"sleep", "100"})).ok);
  ASSERT_TRUE(host().signal("a", SIGKILL).ok);
  auto status = host().exit_status("a", kExitTimeoutMs);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);

  // A background child keeps running unless everything is signalled.
  HostPort out = agent_->listen();
  auto req = AgentProcess::request("b", {"sh", "-c", "sleep 100 & echo $!; wait"});
  req.stdio.stdout_port = out.port;
  ASSERT_TRUE(host().create(req).ok);
  auto fd = out.accept();
  ASSERT_TRUE(host().start("b").ok);
  ASSERT_TRUE(host().signal("b", SIGKILL, /*all=*/true).ok);
  status = host().exit_status("b", kExitTimeoutMs);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  // stdout is held by the background sleep too: EOF proves it died as well.
  read_all(fd->get(), kExitTimeoutMs);
  char c;
  EXPECT_EQ(::recv(fd->get(), &c, 1, MSG_DONTWAIT), 0);
}

TEST_F(ContainerTest, StdinEofReachesTheProcess) {
  HostPort in = agent_->listen(), out = agent_->listen();
  auto req = AgentProcess::request("cat", {"cat"});
  req.stdio.stdin_port = in.port;
  req.stdio.stdout_port = out.port;
  ASSERT_TRUE(host().create(req).ok);
  auto in_fd = in.accept();
  auto out_fd = out.accept();
  ASSERT_TRUE(in_fd.ok() && out_fd.ok());
  ASSERT_TRUE(host().start("cat").ok);
  ASSERT_EQ(::write(in_fd->get(), "hello\n", 6), 6);
  ::shutdown(in_fd->get(), SHUT_WR);
  EXPECT_EQ(read_all(out_fd->get()), "hello\n");
  EXPECT_EQ(host().exit_status("cat", kExitTimeoutMs), 0u);
}

TEST_F(ContainerTest, PortZeroIsDevNull) {
  auto r = run(AgentProcess::request("n", {"sh", "-c", "cat; echo done"}));
  EXPECT_EQ(r.out, "done\n");
}

TEST_F(ContainerTest, ExecutableLookupFailuresUseRuncWordingAndCodes) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
    uint32_t exit_code;  // the shell's: 127 not found, 126 not executable
  } cases[] = {
      {{"nope"}, "exec: \"nope\": executable file not found in $PATH", 127},
      {{"/bin/nope"}, "exec: \"/bin/nope\": stat /bin/nope: no such file or directory", 127},
      {{"/etc/passwd"}, "exec: \"/etc/passwd\": permission denied", 126},
  };
  for (const auto& c : cases) {
    auto st = host().create(AgentProcess::request("x", c.args));
    ASSERT_FALSE(st.ok);
    EXPECT_EQ(st.error, c.message);
    EXPECT_EQ(st.exit_code, c.exit_code) << c.message;
  }
  // Resolution happens inside the root with the process's PATH.
  auto req = AgentProcess::request("x", {"sh", "-c", "true"});
  req.process.env = {"PATH=/nowhere"};
  EXPECT_EQ(host().create(req).error, "exec: \"sh\": executable file not found in $PATH");
  EXPECT_FALSE(host().exit_status("x", 0));  // refused processes are no containers
  EXPECT_TRUE(host().ping().ok);
  // And the id is free again.
  EXPECT_EQ(run(AgentProcess::request("x", {"true"})).status, 0);
}

TEST_F(ContainerTest, ExecFailureAfterStartIsTheStartError) {
  ASSERT_TRUE(host().create(AgentProcess::request("g", {"/bin/garbage"})).ok);
  auto st = host().start("g");
  ASSERT_FALSE(st.ok);
  EXPECT_NE(st.error.find("exec /bin/garbage"), std::string::npos) << st;
  auto status = host().exit_status("g", kExitTimeoutMs);
  ASSERT_TRUE(status);
  EXPECT_EQ(WEXITSTATUS(*status), 126);
}

TEST_F(ContainerTest, EnvCwdUserUmaskHostnameRlimitsApply) {
  auto req = AgentProcess::request(
      "u", {"sh", "-c",
            "echo $FOO; pwd; id -u; id -g; id -G; umask; echo $HOME; hostname; ulimit -n; "
            "ulimit -Hn; touch f && ls -n f"});
  req.process.env = {"PATH=/bin", "FOO=bar baz"};
  req.process.cwd = "/work/sub";  // missing: created, like runc
  req.process.user = {1000, 1001, 0027, {44, 55}};
  req.process.rlimits = {{"RLIMIT_NOFILE", 123, 456}};
  req.hostname = "box";
  ::mkdir((agent_->rootfs() + "/work").c_str(), 0755);
  ::mkdir((agent_->rootfs() + "/work/sub").c_str(), 0755);
  ::chmod((agent_->rootfs() + "/work/sub").c_str(), 0777);
  auto r = run(req);
  EXPECT_EQ(r.err, "");
  std::istringstream lines(r.out);
  std::string line;
  std::vector<std::string> got;
  while (std::getline(lines, line)) got.push_back(line);
  ASSERT_EQ(got.size(), 11u) << r.out;
  EXPECT_EQ(got[0], "bar baz");
  EXPECT_EQ(got[1], "/work/sub");
  EXPECT_EQ(got[2], "1000");
  EXPECT_EQ(got[3], "1001");
  EXPECT_EQ(got[4], "1001 44 55");
  EXPECT_EQ(got[5], "0027");
  EXPECT_EQ(got[6], "/home/user");  // from /etc/passwd, as runc does
  EXPECT_EQ(got[7], "box");
  EXPECT_EQ(got[8], "123");
  EXPECT_EQ(got[9], "456");
  EXPECT_EQ(got[10].substr(0, 10), "-rw-r-----");
  EXPECT_NE(got[10].find(" 1000 "), std::string::npos) << got[10];
}

TEST_F(ContainerTest, CwdIsEnteredBeforeTheUserIsSwitched) {
  // Not a refusal: as runc, so a cwd the user could not reach is still its
  // cwd.
  auto cwd = AgentProcess::request("cwd", {"true"});
  cwd.process.user = {1000, 1000};
  cwd.process.cwd = "/root/private";
  ::mkdir((agent_->rootfs() + "/root").c_str(), 0700);
  auto st = host().create(cwd);
  EXPECT_TRUE(st.ok) << st;
}

TEST_F(ContainerTest, CreateRefusals) {
  auto bad_limit = AgentProcess::request("r", {"true"});
  bad_limit.process.rlimits = {{"RLIMIT_BOGUS", 1, 1}};
  auto st = host().create(bad_limit);
  ASSERT_FALSE(st.ok);
  EXPECT_NE(st.error.find("unknown rlimit \"RLIMIT_BOGUS\""), std::string::npos);
  EXPECT_FALSE(st.exit_code) << st;  // no shell's code: nothing was looked up

  auto dial = AgentProcess::request("r", {"true"});
  dial.stdio.stdout_port = 4;  // nobody listens
  EXPECT_FALSE(host().create(dial).ok);

  ASSERT_TRUE(host().create(AgentProcess::request("live", {"sleep", "100"})).ok);
  st = host().create(AgentProcess::request("live", {"true"}));
  ASSERT_FALSE(st.ok);
  EXPECT_EQ(st.error, "container with id exists: live");
  // Another id is another container in the same VM.
  EXPECT_TRUE(host().create(AgentProcess::request("second", {"true"})).ok);
  EXPECT_FALSE(host().resize("live", 1, 1).ok);  // no terminal
}

TEST_F(ContainerTest, ReadonlyRootfs) {
  auto req = AgentProcess::request("ro", {"sh", "-c", "touch /x || echo refused"});
  req.rootfs.readonly = true;
  auto r = run(req);
  EXPECT_EQ(r.out, "refused\n");
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << r.err;
}

TEST_F(ContainerTest, TerminalRelaysResizesAndExitFollowsOutput) {
  HostPort in = agent_->listen(), out = agent_->listen();
  auto req = AgentProcess::request(
      "tty", {"sh", "-c", "stty size; read x; stty size; echo got $x; echo tail-marker"});
  req.process.terminal = true;
  req.process.console_size = proto::ConsoleSize{24, 80};
  req.stdio.stdin_port = in.port;
  req.stdio.stdout_port = out.port;
  ASSERT_TRUE(host().create(req).ok);
  auto in_fd = in.accept();
  auto out_fd = out.accept();
  ASSERT_TRUE(in_fd.ok() && out_fd.ok());
  ASSERT_TRUE(host().start("tty").ok);

  std::string seen;
  for (int i = 0; i < 100 && seen.find("24 80") == std::string::npos; ++i) {
    seen += read_available(out_fd->get());
    usleep(20 * 1000);
  }
  ASSERT_NE(seen.find("24 80\r\n"), std::string::npos) << seen;
  ASSERT_TRUE(host().resize("tty", 40, 100).ok);
  ASSERT_EQ(::write(in_fd->get(), "go\n", 3), 3);

  // Once the exit arrived, all output must already be readable: the agent
  // sends it only after the relay delivered what the process wrote.
  EXPECT_EQ(host().exit_status("tty", kExitTimeoutMs), 0u);
  seen += read_available(out_fd->get());
  EXPECT_NE(seen.find("40 100\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("got go\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("tail-marker\r\n"), std::string::npos) << seen;
  EXPECT_EQ(read_all(out_fd->get()), "");  // then EOF: the pty closed
}

// The process gets the kind of fd the host asked for per stream (the
// host's own kind), owned by its user as runc's fixStdioPermissions does,
// and the relays deliver through each.
TEST_F(ContainerTest, StdioHasTheRequestedKindsAndTheUsersOwnership) {
  HostPort in = agent_->listen(), out = agent_->listen(), err = agent_->listen();
  auto req = AgentProcess::request(
      "kinds", {"sh", "-c",
                "for f in 0 1 2; do readlink /proc/self/fd/$f; stat -L -c %u /proc/self/fd/$f; "
                "done; [ -t 2 ] && echo err-is-a-tty >&2; read line; echo \"got $line\""});
  req.process.user.uid = 1000;
  req.stdio.stdin_port = in.port;
  req.stdio.stdin_kind = proto::StdioKind::kSocket;
  req.stdio.stdout_port = out.port;
  req.stdio.stdout_kind = proto::StdioKind::kPipe;
  req.stdio.stderr_port = err.port;
  req.stdio.stderr_kind = proto::StdioKind::kTty;
  ASSERT_TRUE(host().create(req).ok);
  auto in_fd = in.accept(), out_fd = out.accept(), err_fd = err.accept();
  ASSERT_TRUE(in_fd.ok() && out_fd.ok() && err_fd.ok());
  ASSERT_TRUE(host().start("kinds").ok);
  ASSERT_EQ(::write(in_fd->get(), "hi\n", 3), 3);
  ::shutdown(in_fd->get(), SHUT_WR);
  std::string text = read_all(out_fd->get());
  std::istringstream lines(text);
  std::string l[7];
  for (auto& x : l) std::getline(lines, x);
  EXPECT_EQ(l[0].rfind("socket:[", 0), 0u) << text;
  EXPECT_EQ(l[2].rfind("pipe:[", 0), 0u) << text;
  EXPECT_EQ(l[4].rfind("/dev/pts/", 0), 0u) << text;
  EXPECT_EQ(l[1] + l[3] + l[5], "100010001000") << text;
  EXPECT_EQ(l[6], "got hi") << text;
  // Raw: no CR added, no echo of anything.
  EXPECT_EQ(read_all(err_fd->get()), "err-is-a-tty\n");
  EXPECT_EQ(host().exit_status("kinds", kExitTimeoutMs), 0u);
}

// Without a port the process gets /dev/null, owned by root still.
TEST_F(ContainerTest, NoPortIsDevNull) {
  HostPort out = agent_->listen();
  auto req = AgentProcess::request(
      "null",
      {"sh", "-c", "readlink /proc/self/fd/0; readlink /proc/self/fd/2; stat -L -c %u /dev/null"});
  req.process.user.uid = 1000;
  req.stdio.stdout_port = out.port;
  ASSERT_TRUE(host().create(req).ok);
  auto out_fd = out.accept();
  ASSERT_TRUE(out_fd.ok());
  ASSERT_TRUE(host().start("null").ok);
  EXPECT_EQ(read_all(out_fd->get()), "/dev/null\n/dev/null\n0\n");
}

// A pipe's content outlives the process: the exit is reported only once the
// relay took everything, and EOF follows all of it (the Node.js case: the
// process exits right after handing its last bytes to the kernel).
TEST_F(ContainerTest, ExitEventWaitsUntilPipedOutputIsDelivered) {
  const std::string pad(70, 'x');
  HostPort out = agent_->listen();
  auto req = AgentProcess::request("pipe", {"sh", "-c",
                                            "i=0; while [ $i -lt 1000 ]; do echo line-$i-" + pad +
                                                "; i=$((i+1)); done; echo end-marker"});
  req.stdio.stdout_port = out.port;
  ASSERT_TRUE(host().create(req).ok);
  auto out_fd = out.accept();
  ASSERT_TRUE(out_fd.ok());
  ASSERT_TRUE(host().start("pipe").ok);
  pollfd p{agent_->host_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 1000), 0) << "an exit before the output was taken";
  std::string want;
  for (int i = 0; i < 1000; ++i) want += "line-" + std::to_string(i) + "-" + pad + "\n";
  EXPECT_EQ(read_all(out_fd->get()), want + "end-marker\n");
  EXPECT_EQ(host().exit_status("pipe", kExitTimeoutMs), 0u);
}

// As runc: the process's pty is bound over /dev/console.
TEST_F(ContainerTest, TerminalIsTheConsole) {
  HostPort out = agent_->listen();
  auto req = AgentProcess::request(
      "console", {"sh", "-c", "[ /dev/console -ef /proc/self/fd/0 ] && echo same-tty"});
  req.process.terminal = true;
  req.stdio.stdout_port = out.port;
  ASSERT_TRUE(host().create(req).ok);
  auto out_fd = out.accept();
  ASSERT_TRUE(out_fd.ok());
  ASSERT_TRUE(host().start("console").ok);
  EXPECT_EQ(read_all(out_fd->get()), "same-tty\r\n");
}

TEST_F(ContainerTest, ExitEventWaitsUntilTerminalOutputIsDelivered) {
  HostPort out = agent_->listen();
  // ~80 KiB: more than the stdout stream takes (small send buffer), less than
  // it plus the relay buffer plus the pty: the process finishes and exits
  // while the relay still holds output the host has not read.
  auto req = AgentProcess::request(
      "big", {"sh", "-c",
              "i=0; while [ $i -lt 1000 ]; do "
              "echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
              "i=$((i+1)); done; echo end-marker"});
  req.process.terminal = true;
  req.stdio.stdout_port = out.port;
  ASSERT_TRUE(host().create(req).ok);
  auto out_fd = out.accept();
  ASSERT_TRUE(out_fd.ok());
  ASSERT_TRUE(host().start("big").ok);
  // Not reading: no exit may arrive although the process is long gone.
  pollfd p{agent_->host_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 1000), 0);
  std::string seen;
  std::optional<uint32_t> status;
  for (int i = 0; i < 1000 && !status; ++i) {
    seen += read_available(out_fd->get());
    status = host().exit_status("big", 10);
  }
  EXPECT_EQ(status, 0u);
  seen += read_available(out_fd->get());
  EXPECT_NE(seen.find("line-999-"), std::string::npos);
  EXPECT_NE(seen.find("end-marker\r\n"), std::string::npos) << seen.size();
}

// A /etc/passwd runc 1.1.5 refuses (a line of 64 KiB or more, passwd.h)
// fails the set-up of a process that needs its HOME, a create's and an
// exec's, with runc's words and the file named; with HOME in the env it is
// not read (runc reads it anyway: PROTOCOL.md, step 3).
TEST_F(ContainerTest, PasswdWithALineOf64KiBFailsTheSetUpAsRunc) {
  ASSERT_TRUE(host().create(AgentProcess::request("up", {"sleep", "100"})).ok);
  ASSERT_TRUE(host().start("up").ok);
  std::ofstream(agent_->rootfs() + "/etc/passwd") << "root:x:0:0::/root:/bin/sh\n"
                                                  << std::string(70000, 'x') << "\n";
  const std::string want =
      "unable to find user 0: /etc/passwd: a line of 64 KiB or more (token too long)";
  auto created = host().create(AgentProcess::request("c", {"true"}));
  EXPECT_FALSE(created.ok);
  EXPECT_EQ(created.error, want);
  proto::Exec e;
  e.container_id = "up";
  e.exec_id = "e1";
  e.process.args = {"true"};
  e.process.env = {"PATH=/bin"};
  auto exec = host().exec(e);
  EXPECT_FALSE(exec.ok);
  EXPECT_EQ(exec.error, want);

  auto with_home = AgentProcess::request("c", {"true"});  // the id is free again
  with_home.process.env.push_back("HOME=/h");
  ASSERT_TRUE(host().create(with_home).ok);
  ASSERT_TRUE(host().start("c").ok);
  EXPECT_EQ(host().exit_status("c", kExitTimeoutMs), 0u);
}

}  // namespace
}  // namespace runvm::agent::testing
