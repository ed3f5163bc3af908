// The agent's loop never blocks on one process's set-up, and one agent holds
// several containers (container_fixture.h: the real Agent as PID 1 of fresh
// namespaces, no VM). The test sends requests with ids it picks: replies to create,
// start and exec may come after replies to later requests, matched by id.
//
// A real slow set-up: a process whose env has no HOME reads /etc/passwd
// (process_init.cc, home_of); with a FIFO there its set-up stalls until
// someone writes to it.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>

#include "guest/agent/container_fixture.h"
#include "tests/support/require.h"
#include "tests/support/temp_dir.h"

namespace runvm::agent {
namespace {

using proto::AgentMessage;
using testing::AgentOptions;
using testing::AgentProcess;
using testing::Host;
using testing::HostPort;
using testing::read_all;

// Longer than any answer takes, far shorter than the 30 s set-up deadline:
// an agent that blocks on a set-up misses it.
constexpr int kAnswerMs = 5000;

proto::Create create(uint64_t id, const std::string& cid, std::vector<std::string> args,
                     bool home = true) {
  proto::Create c = AgentProcess::request(cid, std::move(args));
  c.id = id;
  if (home) c.process.env.push_back("HOME=/root");
  return c;
}

proto::Exec exec(uint64_t id, const std::string& cid, const std::string& eid,
                 std::vector<std::string> args, bool home = true) {
  proto::Exec e;
  e.id = id;
  e.container_id = cid;
  e.exec_id = eid;
  e.process.args = std::move(args);
  e.process.env = {"PATH=/bin"};
  if (home) e.process.env.push_back("HOME=/root");
  return e;
}

proto::Signal signal(uint64_t id, const std::string& cid, int sig, bool all = false,
                     const std::string& eid = "") {
  proto::Signal s;
  s.id = id;
  s.container_id = cid;
  s.signal = static_cast<uint32_t>(sig);
  s.all = all;
  s.exec_id = eid;
  return s;
}

bool killed_by(std::optional<uint32_t> status, int sig) {
  return status && WIFSIGNALED(*status) && static_cast<int>(WTERMSIG(*status)) == sig;
}
bool exited_with(std::optional<uint32_t> status, int code) {
  return status && WIFEXITED(*status) && static_cast<int>(WEXITSTATUS(*status)) == code;
}

class AgentStepsTest : public ::testing::Test {
 protected:
  void start_agent(AgentOptions options = {}) {
    agent_ = std::make_unique<AgentProcess>(options);
    ASSERT_EQ(agent_->setup_error(), "");
    agent_->host().set_timeout_ms(kAnswerMs);
  }
  void SetUp() override { RUNVM_REQUIRE_ROOT("mounts, namespaces"); }

  // /etc/passwd of the (shared) test root becomes a FIFO: a process that
  // looks up its HOME stalls until something writes to it.
  void passwd_fifo() {
    std::string passwd = agent_->rootfs() + "/etc/passwd";
    ASSERT_EQ(::unlink(passwd.c_str()), 0);
    ASSERT_EQ(::mkfifo(passwd.c_str(), 0644), 0);
  }

  // An exec'd process joins the container (in the VM its cgroup, here its
  // mount namespace) itself, after the agent forked it. Starts c1 (its main
  // process ignores SIGTERM, so the exec would have a container to join if it
  // survived) and holds exec e1 (request 3) before it joins; returns the FIFO
  // that lets it go on.
  std::string hold_an_exec_before_it_joins(const std::string& dir, bool ends_vm) {
    start_agent(AgentOptions{.exec_before_join = holder(dir)});
    proto::Create c = create(1, "c1", {"sh", "-c", "trap '' TERM; sleep 60"});
    c.ends_vm = ends_vm;
    host().send(c);
    host().expect_ok(1);
    host().send(proto::Start{2, "c1"});
    host().expect_ok(2);
    host().send(exec(3, "c1", "e1", {"sleep", "60"}));
    EXPECT_TRUE(reached_hold(dir)) << "e1 never reached the hold";
    return dir + "/hold";
  }

  // A before_join hook (AgentOptions) that says it is there (`dir`/held),
  // then waits until the test lets it go on (let_go of `dir`/hold).
  static std::function<void()> holder(const std::string& dir) {
    const std::string held = dir + "/held", hold = dir + "/hold";
    EXPECT_EQ(::mkfifo(hold.c_str(), 0600), 0);
    return [held, hold] {
      ::close(::open(held.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
      ::close(::open(hold.c_str(), O_RDONLY | O_CLOEXEC));
    };
  }
  static bool reached_hold(const std::string& dir) {
    const std::string held = dir + "/held";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kAnswerMs);
    while (::access(held.c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < deadline)
      ::usleep(10'000);
    return ::access(held.c_str(), F_OK) == 0;
  }

  // Lets a held exec go on: a survivor joins and execs. The open fails
  // (ENXIO) once the killed one has left the FIFO.
  static void let_go(const std::string& hold) {
    int release = ::open(hold.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (release >= 0) ::close(release);
  }

  Host& host() { return agent_->host(); }
  std::unique_ptr<AgentProcess> agent_;
};

// A cgroup2 directory of the host's, as the guest's cgroup mount for an
// agent's containers (RootConfig::cgroup_root); removed with what the agent
// left below it once the agent is gone.
class TestCgroupRoot {
 public:
  TestCgroupRoot() {
    for (const char* mount : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
      struct statfs fs;
      if (::statfs(mount, &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC) continue;
      std::string dir = std::string(mount) + "/runvm-agent-test-" + std::to_string(::getpid());
      if (::mkdir(dir.c_str(), 0755) == 0) path_ = dir;
      return;
    }
  }
  ~TestCgroupRoot() {
    if (path_.empty()) return;
    if (DIR* d = ::opendir(path_.c_str())) {
      while (dirent* e = ::readdir(d))
        if (e->d_type == DT_DIR && e->d_name[0] != '.') ::rmdir((path_ + "/" + e->d_name).c_str());
      ::closedir(d);
    }
    ::rmdir(path_.c_str());
  }
  // Empty: this host has no cgroup2 mount to make one in.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_F(AgentStepsTest, StalledExecSetUpLeavesEveryOtherRequestAnswered) {
  start_agent();
  host().send(create(1, "c1", {"sleep", "60"}));
  host().expect_ok(1);
  host().send(proto::Start{2, "c1"});
  host().expect_ok(2);
  passwd_fifo();

  HostPort out = agent_->listen();
  auto slow = exec(10, "c1", "e1", {"sh", "-c", "echo $HOME"}, /*home=*/false);
  slow.stdio.stdout_port = out.port;
  host().send(slow);
  // While e1 is stuck reading the FIFO, everything else is answered.
  host().send(proto::Ping{11});
  ASSERT_TRUE(host().reply(11)) << "ping waited for the exec's set-up";
  host().send(signal(12, "c1", SIGCONT));
  host().expect_ok(12);
  host().send(proto::Resize{13, "c1", 24, 80, ""});
  EXPECT_NE(host().error_of(13).find("has no terminal"), std::string::npos);
  host().send(signal(14, "c1", SIGCONT, false, "e1"));  // the stalled one itself
  host().expect_ok(14);
  EXPECT_FALSE(host().reply(10, 200)) << "e1 cannot be ready yet";

  // A second exec, with HOME, is set up and runs meanwhile: it feeds the FIFO.
  host().send(exec(15, "c1", "e2",
                   {"sh", "-c", "echo 'root:x:0:0:root:/from-fifo:/bin/sh' > /etc/passwd"}));
  auto e2_ok = host().reply(15);
  ASSERT_TRUE(e2_ok);
  EXPECT_TRUE(exited_with(host().exec_status("c1", "e2"), 0));
  // Now e1 gets its HOME and execs: its reply follows e2's.
  auto e1_ok = host().reply(10);
  ASSERT_TRUE(e1_ok);
  EXPECT_TRUE(std::holds_alternative<proto::Ok>(host().log()[*e1_ok]));
  EXPECT_GT(*e1_ok, *e2_ok);
  auto fd = out.accept();
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(read_all(fd->get()), "/from-fifo\n");
  EXPECT_TRUE(exited_with(host().exec_status("c1", "e1"), 0));
}

TEST_F(AgentStepsTest, StalledCreateLeavesOtherContainersServed) {
  start_agent();
  passwd_fifo();
  host().send(create(1, "slow", {"sleep", "60"}, /*home=*/false));
  host().send(create(2, "fast", {"sleep", "60"}));
  host().expect_ok(2);
  host().send(proto::Start{3, "fast"});
  host().expect_ok(3);
  // The slow one is known but not ready: a start waits for its create (the
  // host pipelines them), a second start and an exec wait for nothing.
  host().send(proto::Start{4, "slow"});
  host().send(proto::Start{10, "slow"});
  EXPECT_NE(host().error_of(10).find("is already being started"), std::string::npos);
  host().send(exec(5, "slow", "e1", {"true"}));
  EXPECT_NE(host().error_of(5).find("is being created"), std::string::npos);
  host().send(create(6, "slow", {"true"}));
  EXPECT_EQ(host().error_of(6), "container with id exists: slow");
  EXPECT_FALSE(host().reply(1, 200));
  EXPECT_FALSE(host().reply(4, 0));

  host().send(exec(7, "fast", "feed", {"sh", "-c", "echo 'root:x:0:0::/r:/bin/sh' > /etc/passwd"}));
  host().expect_ok(7);
  auto created = host().reply(1);
  auto started = host().reply(4);
  ASSERT_TRUE(created && started);
  EXPECT_TRUE(std::holds_alternative<proto::Ok>(host().log()[*started]));
  EXPECT_GT(*started, *created);
  host().send(proto::Start{8, "slow"});
  EXPECT_NE(host().error_of(8).find("already running"), std::string::npos);
  host().send(signal(9, "slow", SIGKILL));
  host().expect_ok(9);
  EXPECT_TRUE(killed_by(host().exit_status("slow"), SIGKILL));
}

// The deadline (shortened here) fails the step; the process is killed and
// reported nowhere; the exec id is free again.
TEST_F(AgentStepsTest, SetUpPastTheDeadlineIsRefused) {
  start_agent(AgentOptions{.setup_timeout = std::chrono::milliseconds(300)});
  host().send(create(1, "c1", {"sleep", "60"}));
  host().expect_ok(1);
  host().send(proto::Start{2, "c1"});
  host().expect_ok(2);
  passwd_fifo();
  host().send(exec(3, "c1", "e1", {"true"}, /*home=*/false));
  EXPECT_EQ(host().error_of(3), "exec process setup timed out");
  host().send(exec(4, "c1", "e1", {"sh", "-c", "exit 7"}));
  host().expect_ok(4);
  EXPECT_TRUE(exited_with(host().exec_status("c1", "e1"), 7));
  // Exactly one exec_exit for e1: the abandoned one has none.
  size_t exits = 0;
  for (const auto& m : host().log()) exits += std::holds_alternative<proto::ExecExit>(m);
  EXPECT_EQ(exits, 1u);

  host().send(create(5, "c2", {"true"}, /*home=*/false));
  host().send(proto::Start{50, "c2"});  // pipelined: it fails with its create
  EXPECT_EQ(host().error_of(5), "container process setup timed out");
  EXPECT_EQ(host().error_of(50), "container process setup timed out");
  // Its id is free: a failed create leaves no container behind.
  host().send(signal(6, "c2", SIGKILL));
  EXPECT_EQ(host().error_of(6), "container \"c2\" does not exist");
  host().send(create(7, "c2", {"true"}));
  host().expect_ok(7);
}

TEST_F(AgentStepsTest, SignalAllReachesAnExecNotJoinedYet) {
  runvm::testing::TempDir dir("runvm-join-hold");
  std::string hold = hold_an_exec_before_it_joins(dir.path(), /*ends_vm=*/false);
  host().send(signal(4, "c1", SIGTERM, /*all=*/true));
  host().expect_ok(4);
  let_go(hold);
  EXPECT_NE(host().error_of(3), "") << "e1 survived signal with all and ran";
  EXPECT_FALSE(host().exit_status("c1", 100)) << "the main process ignores SIGTERM";
}

// A VM-ending container's sweep at its main process's exit (ends_vm, in
// place of the host's signal with all) reaches such an exec too.
TEST_F(AgentStepsTest, AVmEndingContainersExitReachesAnExecNotJoinedYet) {
  runvm::testing::TempDir dir("runvm-join-hold");
  std::string hold = hold_an_exec_before_it_joins(dir.path(), /*ends_vm=*/true);
  host().send(signal(4, "c1", SIGKILL));
  host().expect_ok(4);
  EXPECT_TRUE(host().exit_status("c1", kAnswerMs)) << "the main process was killed";
  let_go(hold);
  // Killed where it was held; a survivor would go on to join and fail
  // there (here the main process's namespace is gone; in the VM its cgroup
  // is still there and it would run).
  EXPECT_EQ(host().error_of(3), "exec process died during setup")
      << "e1 survived its container's end";
}

// A container's main process joins its cgroup itself, after the fork: with
// a cgroup, signal with all while the container is created reaches it by its
// pid, or it would survive, join, and run.
TEST_F(AgentStepsTest, SignalAllDuringCreateReachesAMainProcessNotInItsCgroupYet) {
  TestCgroupRoot cgroups;
  if (cgroups.path().empty()) GTEST_SKIP() << "no cgroup2 mount on this host";
  runvm::testing::TempDir dir("runvm-join-hold");
  start_agent(
      AgentOptions{.create_before_join = holder(dir.path()), .cgroup_root = cgroups.path()});
  host().send(create(1, "c1", {"sleep", "60"}));
  ASSERT_TRUE(reached_hold(dir.path())) << "c1's main process never reached the hold";
  host().send(signal(2, "c1", SIGKILL, /*all=*/true));
  host().expect_ok(2);
  let_go(dir.path() + "/hold");
  EXPECT_NE(host().error_of(1), "") << "c1's main process survived signal with all";
  agent_.reset();  // before its cgroup root goes
}

TEST_F(AgentStepsTest, TwoContainersLiveAndDieIndependently) {
  start_agent();
  uint64_t n = 100;
  for (const char* id : {"a", "b"}) {
    host().send(create(++n, id, {"sleep", "60"}));
    host().expect_ok(n);
    host().send(proto::Start{++n, id});
    host().expect_ok(n);
    // Exec ids are per container: both have an e1 and an e2.
    host().send(exec(++n, id, "e1", {"sleep", "60"}));
    host().expect_ok(n);
    host().send(
        exec(++n, id, "e2", {"sh", "-c", std::string("exit ") + (id[0] == 'a' ? "3" : "4")}));
    host().expect_ok(n);
  }
  EXPECT_TRUE(exited_with(host().exec_status("a", "e2"), 3));
  EXPECT_TRUE(exited_with(host().exec_status("b", "e2"), 4));

  // All of b: its main process and its exec, nothing of a.
  host().send(signal(10, "b", SIGKILL, /*all=*/true));
  host().expect_ok(10);
  EXPECT_TRUE(killed_by(host().exit_status("b"), SIGKILL));
  EXPECT_TRUE(killed_by(host().exec_status("b", "e1"), SIGKILL));
  EXPECT_FALSE(host().exit_status("a", 300)) << "signal all of b reached a";
  EXPECT_FALSE(host().exec_status("a", "e1", 100)) << "signal all of b reached a's exec";
  host().send(signal(11, "a", SIGCONT, false, "e1"));
  host().expect_ok(11);

  // a's main process alone: its exec runs on.
  host().send(signal(12, "a", SIGTERM));
  host().expect_ok(12);
  EXPECT_TRUE(killed_by(host().exit_status("a"), SIGTERM));
  host().send(signal(13, "a", SIGCONT, false, "e1"));
  host().expect_ok(13);
  host().send(exec(14, "a", "e3", {"true"}));
  EXPECT_EQ(host().error_of(14), "cannot exec in a stopped container");
  // Then all of a, after its main process is gone: the exec it left.
  host().send(signal(15, "a", SIGKILL, /*all=*/true));
  host().expect_ok(15);
  EXPECT_TRUE(killed_by(host().exec_status("a", "e1"), SIGKILL));

  // Each exit was reported once, with its own container's id.
  size_t a_exits = 0, b_exits = 0;
  for (const auto& m : host().log())
    if (auto* e = std::get_if<proto::Exit>(&m)) (e->container_id == "a" ? a_exits : b_exits)++;
  EXPECT_EQ(a_exits, 1u);
  EXPECT_EQ(b_exits, 1u);
}

TEST_F(AgentStepsTest, CreateRefusesALiveIdAndReplacesAnExitedOne) {
  start_agent();
  host().send(create(1, "x", {"sleep", "60"}));
  host().expect_ok(1);
  host().send(create(2, "x", {"true"}));
  EXPECT_EQ(host().error_of(2), "container with id exists: x");
  host().send(signal(3, "x", SIGKILL));
  host().expect_ok(3);
  EXPECT_TRUE(killed_by(host().exit_status("x"), SIGKILL));
  host().send(create(4, "x", {"sh", "-c", "exit 9"}));
  host().expect_ok(4);
  host().send(proto::Start{5, "x"});
  host().expect_ok(5);
  // The new x's exit: the second exit event for that id.
  EXPECT_TRUE(host().wait([n = 0](const AgentMessage& m) mutable {
    auto* e = std::get_if<proto::Exit>(&m);
    return e && e->container_id == "x" && ++n == 2 && WIFEXITED(e->status) &&
           WEXITSTATUS(e->status) == 9;
  }));
}

}  // namespace
}  // namespace runvm::agent
