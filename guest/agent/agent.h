// Request handling of runvm-agent, independent of being PID 1 and of vsock:
// it gets the control stream fd and a function that dials a new stream to a
// host port, so it runs unchanged in host unit tests over socketpairs.
//
// One epoll loop multiplexes the control stream, SIGCHLD (a signalfd: every
// child is reaped, a container's main process and exec'd processes are
// reported with exit events), the stdio relays and the set-up of every
// process (process_setup.h). Requests are handled in arrival order; a
// create, start or exec is answered when its step finishes, after the
// loop's turn in which that happened, and every other request at once.
// The VM may hold several containers, keyed by container id. OOM kills in a
// container's cgroup are watched (inotify on its memory.events, on the same
// loop) and reported as they happen (`oom` events).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guest/agent/container.h"
#include "guest/agent/container_root.h"
#include "guest/agent/exec.h"
#include "guest/protocol/frame.h"
#include "guest/protocol/messages.h"
#include "spec/base/event_loop.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

// Answers a request whose type the production protocol does not have: the
// reply body, or nullopt when it does not know the type either. Only test
// builds set one (runvm-agent-test, guest/test_agent): runvm-agent has no
// request beyond PROTOCOL.md's.
using ExtensionFn =
    std::function<std::optional<std::string>(std::string_view request, const DialFn& dial)>;

struct AgentConfig {
  DialFn dial;
  RootConfig root;
  ExtensionFn extension;  // empty: none
  // Runs before `shutdown`'s `ok` goes out (empty: nothing). PID 1 syncs the
  // guest's file systems there: the host stops the VM as soon as it has the
  // `ok`, so nothing written may still be only in the guest.
  std::function<void()> before_shutdown_ok;
  // Host tests shorten it to see a set-up time out.
  std::chrono::milliseconds setup_timeout = kSetupTimeout;
  // Host tests only: runs in each exec'd process right after the fork, before
  // it joins the container, to hold it where `signal` with all must still
  // reach it. Empty (always in the VM): nothing.
  std::function<void()> exec_before_join;
  // Host tests only: the same in each container's main process, before it
  // joins its cgroup.
  std::function<void()> create_before_join;
};

class Agent {
 public:
  enum class Outcome { kHostGone, kShutdown };

  // Live exec'd processes per container: each holds fds and relays.
  static constexpr size_t kMaxExecs = 1024;
  // Containers per VM (a pod's); each holds mounts, a cgroup and fds.
  static constexpr size_t kMaxContainers = 64;

  // control_fd is borrowed and must outlive the Agent.
  static Result<std::unique_ptr<Agent>> create(int control_fd, AgentConfig config);

  Status send_hello(const proto::Hello& hello);

  // Serves until the host closes the stream (kHostGone) or a shutdown was
  // acknowledged (kShutdown). Errors mean the stream itself is unusable: I/O
  // failure, oversized or truncated frame. Blocks SIGCHLD in the calling
  // thread and reaps every child of the process: run containers only from a
  // single-threaded process (PID 1 in the guest).
  Result<Outcome> serve();

  // Handles one request body of the production protocol (the extension is
  // not consulted); every input yields a reply, never a crash: at once, or
  // (create, start, exec that began their step) when the step finishes.
  struct Handled {
    std::optional<proto::AgentMessage> reply;  // nullopt: comes later
    bool shutdown = false;
  };
  Handled handle(std::string_view request);

 private:
  Agent(int control_fd, AgentConfig config, std::unique_ptr<EventLoop> loop, UniqueFd inotify)
      : fd_(control_fd),
        config_(std::move(config)),
        loop_(std::move(loop)),
        inotify_(std::move(inotify)) {}

  // A live exec'd process and the request waiting for its set-up.
  struct ExecSlot {
    std::unique_ptr<ExecProcess> process;
    std::optional<uint64_t> reply_to;
  };
  // A container, the request waiting for its create or start step, and its
  // exec'd processes by exec id (dropped once their exit was sent).
  // A freeze waiting for the kernel to report the cgroup frozen.
  struct Freezing {
    uint64_t reply_to = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  struct ContainerSlot {
    std::unique_ptr<Container> container;
    std::optional<uint64_t> reply_to;
    // A start that came while the create step ran (the host pipelines
    // them, PROTOCOL.md "start"): begun once the create is answered.
    std::optional<uint64_t> start_after_create;
    std::map<std::string, ExecSlot, std::less<>> execs;
    uint64_t ooms_sent = 0;  // the oom_kills of the last `oom` event sent
    std::optional<Freezing> freezing;
  };

  std::optional<proto::AgentMessage> create_container(const proto::Create& req);
  std::optional<proto::AgentMessage> start_container(const proto::Start& req);
  proto::AgentMessage signal_container(const proto::Signal& req);
  proto::AgentMessage resize_container(const proto::Resize& req);
  proto::AgentMessage update_memory(const proto::UpdateMemory& req);
  proto::AgentMessage update_resources(const proto::UpdateResources& req);
  proto::AgentMessage container_stats(const proto::StatsRequest& req);
  // Freeze is answered once cgroup.events says "frozen 1" (send_pending
  // looks, polled by freeze_poll_), or after kFreezeTimeout, thawed again.
  std::optional<proto::AgentMessage> freeze_container(const proto::Freeze& req);
  proto::AgentMessage thaw_container(const proto::Thaw& req);
  void check_freezing(ContainerSlot& slot);
  std::optional<proto::AgentMessage> exec_process(const proto::Exec& req);
  Result<ExecProcess*> find_exec(std::string_view container_id, std::string_view exec_id);
  // A container the host can address: created (or being created), not one
  // whose create failed.
  Result<ContainerSlot*> find(std::string_view container_id);
  // Makes room at kMaxContainers: drops an exited container whose exit was
  // sent and which has no exec'd process left.
  bool make_room();

  void on_control_readable();
  // memory.events of a container's cgroup changed (or may have): an `oom`
  // event for each container whose oom_kill count grew since the last.
  void on_oom_watch();
  void reap_children();
  // The container's exec'd processes still being set up (not yet joined).
  static std::vector<pid_t> joining_execs(const ContainerSlot& slot);
  // After each turn of the loop: replies of finished steps, then exits.
  void send_pending();
  void send(const proto::AgentMessage& m, std::string_view what);
  void finish(Result<Outcome> outcome) {
    if (!outcome_) outcome_.emplace(std::move(outcome));
  }

  int fd_;
  AgentConfig config_;
  std::unique_ptr<EventLoop> loop_;
  UniqueFd inotify_;  // watches memory.events; invalid: no live oom events
  proto::FrameDecoder decoder_;
  std::map<std::string, ContainerSlot, std::less<>> containers_;
  // Exec'd processes of a container replaced after its exit: still reaped
  // and reported (exec_exit with the old id), no longer addressable.
  std::vector<std::unique_ptr<ExecProcess>> detached_execs_;
  // Containers whose create failed, until their abandoned process is
  // reaped: then their root and cgroup go, with nothing left in them.
  std::vector<std::unique_ptr<Container>> retiring_;
  // Stdio relays of reported execs, kept until they finish (what children
  // left holding its stdio write still reaches the host); dropped between
  // events, never from a relay's own callback.
  std::vector<std::unique_ptr<Relay>> draining_;
  std::optional<Result<Outcome>> outcome_;  // set: serve() returns it
  // Wakes the loop while a freeze waits (the kernel's cgroup.events
  // notification needs an fd per cgroup; a short poll is enough, as runc's).
  std::unique_ptr<Timer> freeze_poll_;
};

}  // namespace runvm::agent
