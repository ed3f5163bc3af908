#include "guest/agent/process_setup.h"

#include <sys/socket.h>

#include "guest/agent/look_path.h"
#include "guest/agent/process_init.h"
#include "guest/protocol/messages.h"

namespace runvm::agent {

SetupSteps::SetupSteps(Plan plan, std::string what)
    : plan_(plan),
      what_(std::move(what)),
      phase_(plan == Plan::kUntilExec ? Phase::kAwaitExec : Phase::kAwaitReady) {}

SetupSteps::Action SetupSteps::fail(std::string message, std::optional<uint32_t> exit_code) {
  phase_ = Phase::kFinished;
  refusal_ = Refusal{make_error(proto::printable(message)), exit_code};
  return last_ = Action::kFailed;
}

SetupSteps::Action SetupSteps::on_report(const InitReport& report) {
  // The codes a shell would exit with, for the host to pass on (runc's).
  std::optional<uint32_t> code;
  if (report.kind == InitReport::kFailed &&
      (report.exit_code == kExitNotFound || report.exit_code == kExitNotExecutable))
    code = report.exit_code;
  switch (phase_) {
    case Phase::kFinished:
      return last_;
    case Phase::kAwaitReady:
      switch (report.kind) {
        case InitReport::kReady:
          if (plan_ == Plan::kUntilReady) {
            phase_ = Phase::kFinished;
            return last_ = Action::kDone;
          }
          phase_ = Phase::kAwaitExec;
          return last_ = Action::kSendStart;
        case InitReport::kFailed:
          return fail(report.message, code);
        case InitReport::kClosed:
          return fail(what_ + " died during setup");
        case InitReport::kTimedOut:
          return fail(what_ + " setup timed out");
      }
      break;
    case Phase::kAwaitExec:
      switch (report.kind) {
        case InitReport::kReady:  // said twice: not from our process_init
          return fail(what_ + " broke the setup protocol");
        case InitReport::kClosed:
          // EOF: the close-on-exec end went with a successful execve. A
          // process killed meanwhile also reads as EOF: its exit follows.
          phase_ = Phase::kFinished;
          return last_ = Action::kDone;
        case InitReport::kFailed:
          // A start reports no exit code: the process exits with it itself
          // and its exit event carries it.
          return fail(report.message, plan_ == Plan::kUntilExec ? std::nullopt : code);
        case InitReport::kTimedOut:
          return fail(plan_ == Plan::kUntilExec ? what_ + " did not exec"
                                                : what_ + " setup timed out");
      }
      break;
  }
  return fail(what_ + ": unexpected report");
}

std::unique_ptr<SetupRun> SetupRun::begin(EventLoop& loop, int sync_fd, SetupSteps steps,
                                          std::chrono::milliseconds timeout,
                                          BeforeStart before_start) {
  std::unique_ptr<SetupRun> run(
      new SetupRun(loop, sync_fd, std::move(steps), timeout, std::move(before_start)));
  // A start begins by telling the process to go.
  Status st = run->steps_.plan() == SetupSteps::Plan::kUntilExec ? run->send_start() : Status{};
  if (st.ok()) st = run->arm();
  if (!st.ok()) run->finish(StepResult{Refusal{std::move(st).error(), std::nullopt}});
  return run;
}

SetupRun::~SetupRun() { disarm(); }

Status SetupRun::arm() {
  disarm();
  RUNVM_CHECK(loop_.add(sync_fd_, EPOLLIN, [this](uint32_t) { on_readable(); }));
  watching_ = true;
  timer_ = RUNVM_TRY(loop_.add_timer(timeout_, [this] {
    timer_.reset();  // fired: nothing to cancel
    on_timeout();
  }));
  return {};
}

void SetupRun::disarm() {
  if (watching_) loop_.remove(sync_fd_);
  watching_ = false;
  if (timer_) loop_.cancel_timer(*timer_);
  timer_.reset();
}

void SetupRun::on_readable() {
  auto report = receive_report(sync_fd_);
  if (!report) return;  // spurious wake-up: still waiting
  feed(*report);
}

void SetupRun::on_timeout() { feed(InitReport{InitReport::kTimedOut}); }

Status SetupRun::send_start() {
  const char go = init_sync::kStart;
  if (::send(sync_fd_, &go, 1, MSG_NOSIGNAL) != 1) return errno_error(steps_.what() + " is gone");
  return {};
}

void SetupRun::feed(const InitReport& report) {
  switch (steps_.on_report(report)) {
    case SetupSteps::Action::kSendStart: {
      Status st = before_start_ ? before_start_() : Status{};
      if (st.ok()) st = send_start();
      if (st.ok()) st = arm();  // a new deadline for the execve
      if (!st.ok()) finish(StepResult{Refusal{std::move(st).error(), std::nullopt}});
      return;
    }
    case SetupSteps::Action::kDone:
      return finish(StepResult{});
    case SetupSteps::Action::kFailed:
      return finish(StepResult{steps_.refusal()});
  }
}

void SetupRun::finish(StepResult result) {
  disarm();
  result_ = std::move(result);
}

}  // namespace runvm::agent
