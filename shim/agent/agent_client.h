// Host end of the agent control protocol (guest/protocol/PROTOCOL.md):
// blocking request/reply over the control stream. Everything the agent
// sends is untrusted: replies are parsed strictly and matched by id.
//
// Exit events are unsolicited and may arrive at any time, also while a call
// waits for its reply: they are queued (take_exit / wait_exit). An event
// loop watching fd() calls pump() when it is readable.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "guest/protocol/messages.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class AgentClient {
 public:
  explicit AgentClient(UniqueFd fd) : fd_(std::move(fd)) {}

  // Waits up to timeout_ms for the agent's hello. If abort_fd (e.g. the VM
  // process's pidfd) becomes readable first, fails at once.
  Result<proto::Hello> wait_hello(int timeout_ms, int abort_fd);

  Status ping();
  // The agent acknowledges, then powers the VM off.
  Status shutdown();

  // Creates the container's process, blocked before execve; the client
  // assigns req.id. The host must already listen on the stdio ports. A
  // refusal fails with the agent's runc-style message verbatim, and
  // Error::code ENOENT / EACCES when the executable was not found / is not
  // executable (the agent's exit_code 127 / 126).
  Status create(proto::Create req);
  // Lets the process execve; succeeds once it did.
  Status start(const std::string& container_id);
  // `all`: every process in the guest but the agent (runc kill --all).
  Status signal(const std::string& container_id, int sig, bool all);
  Status resize(const std::string& container_id, uint16_t rows, uint16_t cols);

  // The guest's network (PROTOCOL.md, Network); Ok or the agent's error.
  Status configure_network(proto::NetworkConfig network);

  // Runs an additional process (runc exec); the client assigns req.id.
  // Succeeds once it execve'd; a refusal fails like create().
  Status exec(proto::Exec req);
  // Signal / resize an exec'd process instead of the main one.
  Status signal_exec(const std::string& container_id, const std::string& exec_id, int sig);
  Status resize_exec(const std::string& container_id, const std::string& exec_id, uint16_t rows,
                     uint16_t cols);
  // An exec exit already received, oldest first.
  std::optional<proto::ExecExit> take_exec_exit();

  // An exit already received, oldest first.
  std::optional<proto::Exit> take_exit();
  // The next exit, reading the stream for up to timeout_ms. Any reply read
  // meanwhile is an error: no call is waiting for it.
  Result<proto::Exit> wait_exit(int timeout_ms);
  // Reads one message (fd() must be readable): exits are queued, anything
  // else is an error.
  Status pump();

  void set_timeout_ms(int ms) { timeout_ms_ = ms; }
  // Calls fail at once when this fd (the VM's pidfd) becomes readable.
  void set_abort_fd(int fd) { abort_fd_ = fd; }
  int fd() const { return fd_.get(); }

 private:
  // One message within timeout_ms (-1: none).
  Result<proto::AgentMessage> receive(int timeout_ms, int abort_fd);
  // Writes `request`, then reads until a message other than an exit arrives.
  Result<proto::AgentMessage> exchange(const proto::HostMessage& request);
  template <class Reply>
  Result<Reply> call(const proto::HostMessage& request, uint64_t id);
  Status call_ok(const proto::HostMessage& request, uint64_t id);
  // Reads one message within timeout_ms: an exit is queued, else an error.
  Status pump_within(int timeout_ms);
  // Queues `msg` when it is an event; false when it is something else.
  bool queue_event(proto::AgentMessage& msg);
  // Sends a request replied with Ok or an ErrorReply carrying exit_code.
  Status call_refusable(const proto::HostMessage& request, uint64_t id);

  UniqueFd fd_;
  uint64_t next_id_ = 1;
  int timeout_ms_ = 30000;
  int abort_fd_ = -1;
  std::deque<proto::Exit> exits_;
  std::deque<proto::ExecExit> exec_exits_;
};

}  // namespace runvm
