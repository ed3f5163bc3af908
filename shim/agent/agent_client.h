// Host end of the agent control protocol (guest/protocol/PROTOCOL.md):
// blocking request/reply over the control stream. Everything the agent
// sends is untrusted: replies are parsed strictly and matched by id.
#pragma once

#include <cstdint>

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
  // Asks the agent to stream `bytes` of TransferStream(seed) to host port
  // `port`; returns the byte count the agent reports.
  Result<uint64_t> transfer(uint32_t port, uint64_t bytes, uint64_t seed);
  // The agent acknowledges, then powers the VM off.
  Status shutdown();

  void set_timeout_ms(int ms) { timeout_ms_ = ms; }
  // Calls fail at once when this fd (the VM's pidfd) becomes readable.
  void set_abort_fd(int fd) { abort_fd_ = fd; }
  int fd() const { return fd_.get(); }

 private:
  Result<proto::AgentMessage> receive(int timeout_ms, int abort_fd);
  template <class Reply>
  Result<Reply> call(const proto::HostMessage& request, uint64_t id);

  UniqueFd fd_;
  uint64_t next_id_ = 1;
  int timeout_ms_ = 30000;
  int abort_fd_ = -1;
};

}  // namespace runvm
