// SetupSteps alone: what each report means in each step (no process, no
// I/O). SetupRun and the agent's use of it: agent_steps_test.cc.
#include "guest/agent/process_setup.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "guest/agent/look_path.h"
#include "guest/agent/process_init.h"

namespace runvm::agent {
namespace {

using Action = SetupSteps::Action;
using Plan = SetupSteps::Plan;

InitReport ready() { return {InitReport::kReady}; }
InitReport closed() { return {InitReport::kClosed}; }
InitReport timed_out() { return {InitReport::kTimedOut}; }
InitReport failed(uint8_t code, std::string message) {
  return {InitReport::kFailed, code, std::move(message)};
}

TEST(SetupSteps, CreateIsDoneWhenReady) {
  SetupSteps s(Plan::kUntilReady, "container process");
  EXPECT_FALSE(s.finished());
  EXPECT_EQ(s.on_report(ready()), Action::kDone);
  EXPECT_TRUE(s.finished());
  // Nothing more is expected: the same answer.
  EXPECT_EQ(s.on_report(closed()), Action::kDone);
}

TEST(SetupSteps, CreateFailuresSayWhy) {
  struct Case {
    InitReport report;
    std::string message;
    std::optional<uint32_t> exit_code;
  } cases[] = {
      {failed(127, "exec: \"x\": executable file not found in $PATH"),
       "exec: \"x\": executable file not found in $PATH", 127},
      {failed(126, "exec: \"/etc\": permission denied"), "exec: \"/etc\": permission denied", 126},
      {failed(1, "chdir to cwd"), "chdir to cwd", std::nullopt},
      {closed(), "container process died during setup", std::nullopt},
      {timed_out(), "container process setup timed out", std::nullopt},
      {failed(1,
              "bad\x01"
              "byte"),
       "bad?byte", std::nullopt},  // printable for the host
  };
  for (const auto& c : cases) {
    SetupSteps s(Plan::kUntilReady, "container process");
    ASSERT_EQ(s.on_report(c.report), Action::kFailed) << c.message;
    EXPECT_EQ(s.refusal().error.message, c.message);
    EXPECT_EQ(s.refusal().exit_code, c.exit_code) << c.message;
    EXPECT_TRUE(s.finished());
  }
}

TEST(SetupSteps, StartIsDoneAtEofAndReportsNoExitCode) {
  SetupSteps ok(Plan::kUntilExec, "container process");
  EXPECT_EQ(ok.on_report(closed()), Action::kDone);

  SetupSteps bad(Plan::kUntilExec, "container process");
  ASSERT_EQ(bad.on_report(failed(126, "exec /bin/x: Exec format error")), Action::kFailed);
  EXPECT_EQ(bad.refusal().error.message, "exec /bin/x: Exec format error");
  // The process exits with it: its exit event carries the code.
  EXPECT_EQ(bad.refusal().exit_code, std::nullopt);

  SetupSteps slow(Plan::kUntilExec, "container process");
  ASSERT_EQ(slow.on_report(timed_out()), Action::kFailed);
  EXPECT_EQ(slow.refusal().error.message, "container process did not exec");

  SetupSteps twice(Plan::kUntilExec, "container process");
  EXPECT_EQ(twice.on_report(ready()), Action::kFailed);
}

TEST(SetupSteps, ExecGoesReadyStartExec) {
  SetupSteps s(Plan::kReadyThenExec, "exec process");
  EXPECT_EQ(s.on_report(ready()), Action::kSendStart);
  EXPECT_FALSE(s.finished());
  EXPECT_EQ(s.on_report(closed()), Action::kDone);

  SetupSteps missing(Plan::kReadyThenExec, "exec process");
  ASSERT_EQ(missing.on_report(failed(kExitNotFound, "not found")), Action::kFailed);
  EXPECT_EQ(missing.refusal().exit_code, kExitNotFound);

  SetupSteps late(Plan::kReadyThenExec, "exec process");
  ASSERT_EQ(late.on_report(ready()), Action::kSendStart);
  ASSERT_EQ(late.on_report(failed(kExitNotExecutable, "exec /x: Exec format error")),
            Action::kFailed);
  EXPECT_EQ(late.refusal().exit_code, kExitNotExecutable);

  for (const InitReport& r : {closed(), timed_out()}) {
    SetupSteps s2(Plan::kReadyThenExec, "exec process");
    ASSERT_EQ(s2.on_report(r), Action::kFailed);
    EXPECT_EQ(s2.refusal().error.message, r.kind == InitReport::kClosed
                                              ? "exec process died during setup"
                                              : "exec process setup timed out");
  }
  SetupSteps stalled(Plan::kReadyThenExec, "exec process");
  ASSERT_EQ(stalled.on_report(ready()), Action::kSendStart);
  ASSERT_EQ(stalled.on_report(timed_out()), Action::kFailed);
  EXPECT_EQ(stalled.refusal().error.message, "exec process setup timed out");
}

// SetupRun over a real sync pair, the test playing the process.
struct Pair {
  UniqueFd agent, process;
  Pair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    agent.reset(fds[0]);
    process.reset(fds[1]);
  }
};

void turn_until(EventLoop& loop, const SetupRun& run, int max_turns = 50) {
  for (int i = 0; i < max_turns && !run.finished(); ++i) ASSERT_TRUE(loop.run_once(100).ok());
}

TEST(SetupRun, ExecStepSendsStartAfterTheHookAndEndsAtEof) {
  auto loop = *EventLoop::create();
  Pair p;
  int hooked = 0;
  auto run = SetupRun::begin(*loop, p.agent.get(), SetupSteps(Plan::kReadyThenExec, "exec process"),
                             std::chrono::seconds(5), [&] {
                               ++hooked;
                               return Status{};
                             });
  ASSERT_TRUE(loop->run_once(0).ok());
  EXPECT_FALSE(run->finished());
  ASSERT_EQ(send(p.process.get(), "R", 1, 0), 1);
  ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(hooked, 1);
  char c = 0;
  ASSERT_EQ(recv(p.process.get(), &c, 1, MSG_DONTWAIT), 1);
  EXPECT_EQ(c, init_sync::kStart);
  EXPECT_FALSE(run->finished());
  p.process.reset();  // execve closed it
  turn_until(*loop, *run);
  ASSERT_TRUE(run->finished());
  EXPECT_TRUE(run->result()->ok());
  EXPECT_FALSE(loop->contains(p.agent.get()));
  EXPECT_EQ(loop->pending_timers(), 0u);
}

TEST(SetupRun, DeadlineFailsTheStepAndAFailingHookToo) {
  auto loop = *EventLoop::create();
  Pair slow;
  auto run =
      SetupRun::begin(*loop, slow.agent.get(), SetupSteps(Plan::kUntilReady, "container process"),
                      std::chrono::milliseconds(50));
  turn_until(*loop, *run);
  ASSERT_TRUE(run->finished());
  EXPECT_EQ(run->result()->refusal->error.message, "container process setup timed out");
  EXPECT_FALSE(loop->contains(slow.agent.get()));

  Pair hooked;
  auto run2 =
      SetupRun::begin(*loop, hooked.agent.get(), SetupSteps(Plan::kReadyThenExec, "exec process"),
                      std::chrono::seconds(5), [] { return Status(make_error("no relay")); });
  ASSERT_EQ(send(hooked.process.get(), "R", 1, 0), 1);
  turn_until(*loop, *run2);
  ASSERT_TRUE(run2->finished());
  EXPECT_EQ(run2->result()->refusal->error.message, "no relay");
  char c;
  EXPECT_LT(recv(hooked.process.get(), &c, 1, MSG_DONTWAIT), 1) << "no start after a failed hook";
}

// Dropping a run in progress leaves nothing registered.
TEST(SetupRun, DroppedRunUnregisters) {
  auto loop = *EventLoop::create();
  Pair p;
  auto run =
      SetupRun::begin(*loop, p.agent.get(), SetupSteps(Plan::kUntilReady, "container process"),
                      std::chrono::seconds(5));
  EXPECT_TRUE(loop->contains(p.agent.get()));
  run.reset();
  EXPECT_FALSE(loop->contains(p.agent.get()));
  EXPECT_EQ(loop->pending_timers(), 0u);
}

}  // namespace
}  // namespace runvm::agent
