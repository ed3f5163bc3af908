// Request handling of runvm-agent, independent of being PID 1 and of vsock:
// it gets the control stream fd and a function that dials a new stream to a
// host port, so it runs unchanged in host unit tests over socketpairs.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "guest/protocol/messages.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

// Opens a new stream to the host on `port` (vsock CID 2 in the guest).
using DialFn = std::function<Result<UniqueFd>(uint32_t port)>;

class Agent {
 public:
  enum class Outcome { kHostGone, kShutdown };

  // Bytes per write of a transfer.
  static constexpr size_t kTransferChunk = 256 * 1024;
  // A transfer whose reader stops reading for this long fails.
  static constexpr int kTransferStallSeconds = 30;

  // control_fd is borrowed and must outlive the Agent.
  Agent(int control_fd, DialFn dial) : fd_(control_fd), dial_(std::move(dial)) {}

  Status send_hello(const proto::Hello& hello);

  // Serves requests sequentially until the host closes the stream (kHostGone)
  // or a shutdown was acknowledged (kShutdown). Errors mean the stream itself
  // is unusable: I/O failure, oversized or truncated frame.
  Result<Outcome> serve();

  // Handles one request body; every input yields a reply, never a crash.
  struct Handled {
    proto::AgentMessage reply;
    bool shutdown = false;
  };
  Handled handle(std::string_view request);

 private:
  proto::AgentMessage transfer(const proto::Transfer& req);

  int fd_;
  DialFn dial_;
};

}  // namespace runvm::agent
