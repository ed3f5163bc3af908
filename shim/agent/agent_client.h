// Host end of the agent control protocol (guest/protocol/PROTOCOL.md).
// Everything the agent sends is untrusted: frames are bounds-checked and
// parsed strictly; a message that does not parse, or a reply for no pending
// request, is logged and dropped, never trusted.
//
// Asynchronous: request() writes a request with a fresh id and returns; the
// agent's reply, in whatever order replies arrive, completes it through its
// Done callback (once, always: the reply, a timeout after timeout_ms, or
// the failure of the whole channel). Exits (`exit`, `exec_exit`) and `oom` are events
// delivered to the handlers registered for their container id.
//
// Driven either by an EventLoop (attach(): the shim) or, while no loop owns
// the client, by call_sync and the few blocking calls built on it (boot's
// hello, vm_check's pings, the guest network, the shutdown), which wait on
// the same reading and dispatching code. When the VM dies (the abort fd, its pidfd, becomes
// readable) or the stream breaks, every pending request fails with one
// error and so does every later one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "guest/protocol/frame.h"
#include "guest/protocol/messages.h"
#include "spec/base/event_loop.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class AgentClient {
 public:
  // The outcome of one request.
  struct Reply {
    Status status;  // ok; the agent's refusal; or why there was no reply
    // A refused create/exec: the agent's exit_code as it sent it (127: no
    // such executable, 126: not executable).
    std::optional<uint32_t> exit_code;
    // The agent's answer to a StatsRequest.
    std::optional<proto::ContainerStats> stats;
  };
  using Done = std::function<void(Reply)>;
  // Per container id. Unset members drop their events (logged).
  struct ExitHandlers {
    std::function<void(const proto::Exit&)> exit;
    std::function<void(const proto::ExecExit&)> exec_exit;
    std::function<void(const proto::Oom&)> oom;  // live OOM kills in its cgroup
  };

  explicit AgentClient(UniqueFd fd);
  ~AgentClient();
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  // Every request gets this long for its reply (default 30 s).
  void set_timeout_ms(int ms) { timeout_ = std::chrono::milliseconds(ms); }
  // The VM process's pidfd: readable once it died, which fails the channel.
  void set_abort_fd(int fd) { abort_fd_ = fd; }
  int fd() const { return fd_.get(); }
  // The channel's failure, once it failed.
  const std::optional<Error>& broken() const { return broken_; }
  size_t pending() const { return pending_.size(); }

  // --- asynchronous: driven by an EventLoop ---------------------------------
  // Watches the stream (and the abort fd) on `loop` from now on.
  // `on_broken` runs once if the channel fails (after every pending request
  // was failed). Blocking calls are refused while attached.
  Status attach(EventLoop& loop, std::function<void(const Error&)> on_broken = {});
  // Leaves the loop; pending requests stay pending.
  void detach();

  // Sends `request` (its id is assigned here) and completes `done` with the
  // agent's reply. `done` may run before request() returns (a broken
  // channel) and may itself send requests.
  void request(proto::HostMessage request, Done done);
  void create(proto::Create req, Done done) { request(std::move(req), std::move(done)); }
  void exec(proto::Exec req, Done done) { request(std::move(req), std::move(done)); }
  void start(const std::string& container_id, Done done);
  // `exec_id` empty: the container's main process. `all`: every process in
  // the guest but the agent (runc kill --all).
  void signal(const std::string& container_id, const std::string& exec_id, int sig, bool all,
              Done done);
  void resize(const std::string& container_id, const std::string& exec_id, uint16_t rows,
              uint16_t cols, Done done);

  void set_exit_handlers(const std::string& container_id, ExitHandlers handlers);
  void remove_exit_handlers(const std::string& container_id);

  // --- blocking, only while no loop owns the client -------------------------
  // The agent's hello (its first message) within timeout_ms; `abort_fd`
  // (>= 0) as set_abort_fd.
  Result<proto::Hello> wait_hello(int timeout_ms, int abort_fd = -1);
  // Sends `request` and waits for its outcome.
  Reply call_sync(proto::HostMessage request);
  // Pipelining: send() writes a request now (even before the hello: the
  // agent reads requests once it said hello, PROTOCOL.md), await() blocks
  // until its outcome arrived. A request sent before the hello gets its
  // full timeout from the hello on.
  using Outcome = std::shared_ptr<std::optional<Reply>>;
  Outcome send(proto::HostMessage request);
  Reply await(const Outcome& outcome);
  Status ping();
  // The agent acknowledges, then powers the VM off.
  Status shutdown();
  // The guest's network (PROTOCOL.md, Network), sent before the first
  // create; Ok or the agent's error.
  Status configure_network(proto::NetworkConfig network);

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    std::string_view expects = proto::Ok::kType;  // the reply's type (or `error`)
    bool verbatim = false;  // create/exec: the agent's message is runc's, as is
    Clock::time_point deadline;
    Done done;
  };

  // Reads what is there (without blocking) and dispatches each frame.
  void on_readable();
  void on_message(proto::AgentMessage msg);
  void complete(uint64_t id, Reply reply);
  // Writes what is queued, without blocking.
  void flush();
  // Fails every request whose deadline passed, then re-arms the timer.
  void expire();
  void rearm();
  void watch_output(bool want);
  // Fails the channel: every pending and later request gets `e`.
  void fail(Error e);
  // Blocking: one poll() for the stream until `deadline`, then its handling.
  Status pump_until(Clock::time_point deadline);
  Status refuse_if_attached() const;
  Result<proto::HostMessage> checked(proto::HostMessage request) const;

  UniqueFd fd_;
  int abort_fd_ = -1;
  std::chrono::milliseconds timeout_{30000};
  uint64_t next_id_ = 1;
  std::map<uint64_t, Pending> pending_;
  std::map<std::string, ExitHandlers> handlers_;
  proto::FrameDecoder decoder_;
  std::string out_;  // encoded frames not yet written
  bool first_ = true;
  std::optional<proto::Hello> hello_;
  std::optional<Error> broken_;
  EventLoop* loop_ = nullptr;
  std::unique_ptr<Timer> timer_;
  bool watching_out_ = false;
  std::function<void(const Error&)> on_broken_;
  // Set while a handler runs from the destructor's point of view: see ~AgentClient.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace runvm
