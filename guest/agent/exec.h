// One exec'd process (runc exec): an additional process in a container's
// root, created and started in one step. It joins the mount namespace of
// the container's main process, so it sees exactly the container's root;
// otherwise it is set up like the main process (process_init.h). The agent
// reaps; the ExecProcess is told and reports its own exit event. Its
// set-up is one step (process_setup.h: ready, relays, start, execve) that
// finishes on the agent's event loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "guest/agent/container.h"
#include "guest/agent/guest_process.h"
#include "guest/agent/process_io.h"
#include "guest/agent/process_setup.h"
#include "guest/agent/relay.h"
#include "guest/protocol/exec_messages.h"
#include "spec/base/event_loop.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

class ExecProcess {
 public:
  // Dials the stdio ports and forks the process into the root and cgroup
  // of `container`'s main process (with its seccomp profile); the step then
  // runs until it exec'd (take_step_result). A refusal here means nothing
  // was forked. on_progress as for Container; before_join as
  // AgentConfig::exec_before_join.
  static std::variant<std::unique_ptr<ExecProcess>, Refusal> launch(
      const proto::Exec& req, const Container& container, const DialFn& dial, EventLoop& loop,
      std::chrono::milliseconds setup_timeout, std::function<void()> on_progress,
      std::function<void()> before_join = {});
  ~ExecProcess();

  // The set-up step has not had its result taken yet.
  bool stepping() const { return run_ != nullptr; }
  // Its result once it finished, once. On failure the process was
  // abandoned (GuestProcess::abandon): drop the ExecProcess.
  std::optional<StepResult> take_step_result();

  pid_t pid() const { return proc_.pid(); }
  bool exited() const { return proc_.exited(); }
  Status signal(int sig);
  Status resize(uint16_t rows, uint16_t cols);

  // The agent reaped the process.
  void on_reaped(int status);
  // The exit to report now, once (same rule as Container::take_exit; never
  // before the set-up step's result was taken).
  std::optional<proto::ExecExit> take_exit();
  // After the exit: its stdio relays, to keep until they finish (GuestProcess).
  std::vector<std::unique_ptr<Relay>> release_relays() { return proc_.release_relays(); }

 private:
  ExecProcess(std::string container_id, std::string exec_id)
      : container_id_(std::move(container_id)),
        exec_id_(std::move(exec_id)),
        proc_("exec process \"" + exec_id_ + "\"") {}

  Status start_relays();

  std::string container_id_, exec_id_;
  EventLoop* loop_ = nullptr;
  std::function<void()> on_progress_;
  std::optional<ProcessStdio> stdio_;  // until its relays start
  bool terminal_ = false;
  UniqueFd sync_;                  // until it exec'd
  std::unique_ptr<SetupRun> run_;  // the set-up step; goes before sync_
  GuestProcess proc_;
};

}  // namespace runvm::agent
