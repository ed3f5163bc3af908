// One container as the agent runs it: its prepared root, its main process
// (created blocked before execve, then started), the pty relays of a
// terminal container, and its exit. The agent reaps; the container is told.
//
// create and start are steps (process_setup.h) that finish on the agent's
// event loop: the agent takes their result after each turn of the loop
// and replies then, answering other requests meanwhile.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "guest/agent/container_cgroup.h"
#include "guest/agent/container_procs.h"
#include "guest/agent/container_root.h"
#include "guest/agent/guest_process.h"
#include "guest/agent/process_io.h"
#include "guest/agent/process_setup.h"
#include "guest/agent/relay.h"
#include "guest/protocol/container_messages.h"
#include "spec/base/event_loop.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

// Opens a new stream to the host on `port` (vsock CID 2 in the guest). It
// may return before the connection is made (vsock_connect_start): callers
// use the stream once await_connected (process_io.h) said it is.
using DialFn = std::function<Result<UniqueFd>(uint32_t port)>;

// How long a process may take from fork to ready, and from start to its
// execve: a stalled share must not leave a request unanswered for ever.
inline constexpr std::chrono::milliseconds kSetupTimeout{30000};

class Container {
 public:
  using Refusal = agent::Refusal;
  enum class State {
    kCreating,  // the create step runs
    kCreated,   // blocked before execve, waiting for start
    kStarting,  // the start step runs
    kRunning,   // exec'd (or exited: see exited())
    kFailed,    // the create step failed: the process was abandoned
  };

  // Mounts the root, dials the stdio streams and forks the process; the
  // create step then runs until it is ready (take_step_result). A refusal
  // here means nothing was forked. on_progress runs after relay activity.
  static std::variant<std::unique_ptr<Container>, Refusal> create(
      const proto::Create& req, const RootConfig& root_config, const DialFn& dial, EventLoop& loop,
      std::chrono::milliseconds setup_timeout, std::function<void()> on_progress,
      std::function<void()> before_join = {});
  ~Container();

  const std::string& id() const { return id_; }
  pid_t pid() const { return proc_.pid(); }
  State state() const { return state_; }
  // The container's seccomp profile: exec'd processes get it too, as in runc.
  const std::optional<proto::Seccomp>& seccomp() const { return seccomp_; }
  // Its cgroup in the agent's view; exec'd processes join it. Empty: none.
  const std::string& cgroup_dir() const { return cgroup_ ? cgroup_->path() : kNone; }
  bool exited() const { return proc_.exited(); }
  // Its main process is PID 1 of a namespace of its own (pid_namespace.h):
  // exec'd processes join it.
  bool own_pid_ns() const { return own_pid_ns_; }
  bool reaped() const { return proc_.reaped(); }

  // A create or start step has not had its result taken yet.
  bool stepping() const { return run_ != nullptr; }
  // The step's result once it finished, once; the state follows it.
  std::optional<StepResult> take_step_result();

  // Begins the start step: the process may execve. An error when it
  // cannot begin (not created, stopped).
  Status start();
  Status signal(int sig);
  // Every process of the container (container_procs.h), and `joining`:
  // its exec'd processes still being set up.
  Status signal_all(int sig, std::vector<pid_t> joining = {});
  Status resize(uint16_t rows, uint16_t cols);
  // The OOM kills of its cgroup so far (ContainerCgroup::oom_kills).
  uint64_t oom_kills() const { return cgroup_ ? cgroup_->oom_kills() : 0; }
  // runvm update --memory: the cgroup's memory.max (ContainerCgroup::set_memory_max).
  Status update_memory(std::optional<uint64_t> limit, uint64_t guest_ram);
  Status update_resources(const proto::UpdateResources& u);
  // runvm pause/resume of a pod member: its cgroup's freezer
  // (ContainerCgroup::set_frozen, frozen).
  Status set_frozen(bool frozen);
  Result<bool> frozen() const;

  // A failed create (kFailed) waits for its process to be reaped before its
  // cgroup goes; a new container of the same id takes the cgroup over.
  void release_cgroup() {
    if (cgroup_) cgroup_->release();
  }

  // The agent reaped the main process. `joining`: its exec'd processes
  // still being set up, which a VM-ending container's sweep must reach too.
  void on_reaped(int status, std::vector<pid_t> joining = {});
  // The exit to report now, once: the process was reaped, the output it
  // wrote before exiting has been delivered and no step awaits its reply.
  std::optional<proto::Exit> take_exit();
  bool exit_taken() const { return proc_.exit_taken(); }

 private:
  Container(std::string id, ContainerRoot root, EventLoop& loop,
            std::chrono::milliseconds setup_timeout)
      : id_(std::move(id)),
        root_(std::move(root)),
        loop_(loop),
        setup_timeout_(setup_timeout),
        proc_("container \"" + id_ + "\"") {}

  static inline const std::string kNone;
  std::string id_;
  ContainerRoot root_;
  EventLoop& loop_;
  std::chrono::milliseconds setup_timeout_;
  std::optional<ContainerCgroup> cgroup_;
  State state_ = State::kCreating;
  // Until the create step finished: the stdio to relay once ready.
  std::optional<ProcessStdio> stdio_;
  bool terminal_ = false;
  std::function<void()> on_progress_;
  std::optional<NamespaceId> mount_ns_;
  // A VM-ending container's mount namespace, held from its readiness on:
  // see take_step_result.
  UniqueFd mount_ns_hold_;
  UniqueFd sync_;                  // until started; outlives proc_, which kills first
  std::unique_ptr<SetupRun> run_;  // the step in progress; before proc_ and sync_ go
  GuestProcess proc_;
  std::optional<proto::Seccomp> seccomp_;
  bool own_pid_ns_ = false;
  bool sync_at_exit_ = false;  // RootConfig::sync_at_exit
  bool ends_vm_ = false;       // proto::Create::ends_vm
};

}  // namespace runvm::agent
