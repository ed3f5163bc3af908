// One container as the agent runs it: its prepared root, its main process
// (created blocked before execve, then started), the pty relays of a
// terminal container, and its exit. The agent reaps; the container is told.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "guest/agent/container_cgroup.h"
#include "guest/agent/container_root.h"
#include "guest/agent/guest_process.h"
#include "guest/agent/relay.h"
#include "guest/protocol/container_messages.h"
#include "spec/base/event_loop.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

// Opens a new stream to the host on `port` (vsock CID 2 in the guest).
using DialFn = std::function<Result<UniqueFd>(uint32_t port)>;

class Container {
 public:
  // A refused create: the message for the host and, when the executable was
  // missing or not executable, the exit code 127/126.
  struct Refusal {
    Error error;
    std::optional<uint32_t> exit_code;
  };

  // Mounts the root, dials the stdio streams, forks the process and waits
  // until it is ready (or reports why not; it is then reaped). on_progress
  // runs after relay activity, so the owner can send a pending exit.
  static std::variant<std::unique_ptr<Container>, Refusal> create(
      const proto::Create& req, const RootConfig& root_config, const DialFn& dial, EventLoop& loop,
      std::function<void()> on_progress);
  ~Container();

  const std::string& id() const { return id_; }
  pid_t pid() const { return proc_.pid(); }
  // The container's seccomp profile: exec'd processes get it too, as in runc.
  const std::optional<proto::Seccomp>& seccomp() const { return seccomp_; }
  // Its cgroup in the agent's view; exec'd processes join it. Empty: none.
  const std::string& cgroup_dir() const { return cgroup_ ? cgroup_->path() : kNone; }
  bool exited() const { return proc_.exited(); }

  // Lets the process execve; ok once it did.
  Status start();
  Status signal(int sig);
  Status resize(uint16_t rows, uint16_t cols);

  // The agent reaped the main process.
  void on_reaped(int status);
  // The exit to report now, once: the process was reaped and the terminal
  // output it wrote before exiting has been delivered.
  std::optional<proto::Exit> take_exit();

 private:
  Container(std::string id, ContainerRoot root)
      : id_(std::move(id)), root_(std::move(root)), proc_("container \"" + id_ + "\"") {}

  static inline const std::string kNone;
  std::string id_;
  ContainerRoot root_;
  std::optional<ContainerCgroup> cgroup_;
  UniqueFd sync_;  // until started; outlives proc_, which kills first
  GuestProcess proc_;
  std::optional<proto::Seccomp> seccomp_;
};

}  // namespace runvm::agent
