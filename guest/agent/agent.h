// Request handling of runvm-agent, independent of being PID 1 and of vsock:
// it gets the control stream fd and a function that dials a new stream to a
// host port, so it runs unchanged in host unit tests over socketpairs.
//
// One epoll loop multiplexes the control stream, SIGCHLD (a signalfd: every
// child is reaped, the container's main process is reported with an exit
// event) and the terminal relays of the container.
#pragma once

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
};

class Agent {
 public:
  enum class Outcome { kHostGone, kShutdown };

  // Live exec'd processes per container: each holds fds and relays.
  static constexpr size_t kMaxExecs = 1024;

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
  // not consulted); every input yields a reply, never a crash.
  struct Handled {
    proto::AgentMessage reply;
    bool shutdown = false;
  };
  Handled handle(std::string_view request);

 private:
  Agent(int control_fd, AgentConfig config, std::unique_ptr<EventLoop> loop)
      : fd_(control_fd), config_(std::move(config)), loop_(std::move(loop)) {}

  proto::AgentMessage create_container(const proto::Create& req);
  proto::AgentMessage start_container(const proto::Start& req);
  proto::AgentMessage signal_container(const proto::Signal& req);
  proto::AgentMessage resize_container(const proto::Resize& req);
  proto::AgentMessage exec_process(const proto::Exec& req);
  Result<ExecProcess*> find_exec(std::string_view container_id, std::string_view exec_id);
  Result<Container*> find(std::string_view container_id);

  void on_control_readable();
  void reap_children();
  void send_pending_exit();
  void finish(Result<Outcome> outcome) {
    if (!outcome_) outcome_.emplace(std::move(outcome));
  }

  int fd_;
  AgentConfig config_;
  std::unique_ptr<EventLoop> loop_;
  proto::FrameDecoder decoder_;
  // One container per VM; an exited one is replaced by the next create.
  std::unique_ptr<Container> container_;
  // Live exec'd processes by exec id; dropped once their exit was sent.
  std::map<std::string, std::unique_ptr<ExecProcess>, std::less<>> execs_;
  // Stdio relays of reported execs, kept until they finish (what children
  // left holding its stdio write still reaches the host); dropped between
  // events, never from a relay's own callback.
  std::vector<std::unique_ptr<Relay>> draining_;
  std::optional<Result<Outcome>> outcome_;  // set: serve() returns it
};

}  // namespace runvm::agent
