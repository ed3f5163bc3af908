// The set-up of a forked process, from fork to its execve, driven by the
// agent's event loop so that one slow process (a stalled share, a FIFO in
// place of /etc/passwd) never holds up the requests of others.
//
// SetupSteps is the state machine alone, without I/O: it is told what the
// process reported on its sync pair (process_init.h) or that the deadline
// passed, and answers what to do next. SetupRun is its transport: it waits
// for the report on the loop (sync fd readable, or a timer), sends "start"
// when told to, and holds the outcome for its owner, which looks after each
// turn of the loop (Agent::serve) and replies to the request then.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "guest/agent/process_io.h"
#include "spec/base/event_loop.h"
#include "spec/base/result.h"

namespace runvm::agent {

// A refused create, start or exec: the message for the host and, when the
// executable was missing or not executable, the exit code 127/126.
struct Refusal {
  Error error;
  std::optional<uint32_t> exit_code;
};

class SetupSteps {
 public:
  // kUntilReady: a create, done once the process is blocked before execve.
  // kUntilExec: a start, done once it exec'd (the caller sent "start").
  // kReadyThenExec: an exec, both in one request ("start" in between).
  enum class Plan { kUntilReady, kUntilExec, kReadyThenExec };
  enum class Action {
    kSendStart,  // ready: let it execve, then wait for the next report
    kDone,       // the step succeeded
    kFailed,     // the step failed: refusal() says why
  };

  // `what` names the process in messages: "container process".
  SetupSteps(Plan plan, std::string what);

  // One report, or InitReport::kTimedOut when the deadline passed. After
  // kDone or kFailed nothing more is expected: further calls answer the same.
  Action on_report(const InitReport& report);
  // After kFailed.
  const Refusal& refusal() const { return *refusal_; }
  bool finished() const { return phase_ == Phase::kFinished; }
  Plan plan() const { return plan_; }
  const std::string& what() const { return what_; }

 private:
  enum class Phase { kAwaitReady, kAwaitExec, kFinished };
  Action fail(std::string message, std::optional<uint32_t> exit_code = std::nullopt);

  Plan plan_;
  std::string what_;
  Phase phase_;
  Action last_ = Action::kDone;  // read once finished
  std::optional<Refusal> refusal_;
};

// How a step ended: ok, or the refusal.
struct StepResult {
  std::optional<Refusal> refusal;
  bool ok() const { return !refusal; }
};

class SetupRun {
 public:
  // Runs when the process is ready, just before it is told to start (an
  // exec's relays); an error fails the step.
  using BeforeStart = std::function<Status()>;

  // `sync_fd` is borrowed and must outlive the run. With Plan::kUntilExec
  // "start" is sent first. A failure to even begin is the outcome at once.
  static std::unique_ptr<SetupRun> begin(EventLoop& loop, int sync_fd, SetupSteps steps,
                                         std::chrono::milliseconds timeout,
                                         BeforeStart before_start = {});
  ~SetupRun();
  SetupRun(const SetupRun&) = delete;
  SetupRun& operator=(const SetupRun&) = delete;

  bool finished() const { return result_.has_value(); }
  // The outcome, once finished; the run may then be dropped.
  const std::optional<StepResult>& result() const { return result_; }

 private:
  SetupRun(EventLoop& loop, int sync_fd, SetupSteps steps, std::chrono::milliseconds timeout,
           BeforeStart before_start)
      : loop_(loop),
        sync_fd_(sync_fd),
        steps_(std::move(steps)),
        timeout_(timeout),
        before_start_(std::move(before_start)) {}

  Status arm();
  void disarm();
  void on_readable();
  void on_timeout();
  void feed(const InitReport& report);
  void finish(StepResult result);
  Status send_start();

  EventLoop& loop_;
  int sync_fd_;
  SetupSteps steps_;
  std::chrono::milliseconds timeout_;
  BeforeStart before_start_;
  bool watching_ = false;
  std::optional<EventLoop::TimerId> timer_;
  std::optional<StepResult> result_;
};

}  // namespace runvm::agent
