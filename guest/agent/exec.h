// One exec'd process (runc exec): an additional process in a container's
// root, created and started in one step. It joins the mount namespace of
// the container's main process, so it sees exactly the container's root;
// otherwise it is set up like the main process (process_init.h). The agent
// reaps; the ExecProcess is told and reports its own exit event.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "guest/agent/container.h"
#include "guest/agent/guest_process.h"
#include "guest/agent/relay.h"
#include "guest/protocol/exec_messages.h"
#include "spec/base/event_loop.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

class ExecProcess {
 public:
  // Dials the stdio ports, forks the process into the root and cgroup of
  // `container`'s main process (with its seccomp profile), and lets it execve. Returns once it did,
  // or the reason it did not (the process is then reaped). on_progress as for Container.
  static std::variant<std::unique_ptr<ExecProcess>, Container::Refusal> launch(
      const proto::Exec& req, const Container& container, const DialFn& dial, EventLoop& loop,
      std::function<void()> on_progress);
  ~ExecProcess();

  pid_t pid() const { return proc_.pid(); }
  bool exited() const { return proc_.exited(); }
  Status signal(int sig);
  Status resize(uint16_t rows, uint16_t cols);

  // The agent reaped the process.
  void on_reaped(int status);
  // The exit to report now, once (same rule as Container::take_exit).
  std::optional<proto::ExecExit> take_exit();
  // After the exit: its stdio relays, to keep until they finish (GuestProcess).
  std::vector<std::unique_ptr<Relay>> release_relays() { return proc_.release_relays(); }

 private:
  ExecProcess(std::string container_id, std::string exec_id)
      : container_id_(std::move(container_id)),
        exec_id_(std::move(exec_id)),
        proc_("exec process \"" + exec_id_ + "\"") {}

  std::string container_id_, exec_id_;
  GuestProcess proc_;
};

}  // namespace runvm::agent
