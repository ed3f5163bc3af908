// The host side of the test extension, for tests that talk to
// runvm-agent-test (tests/integration/vm_test.cc).
#pragma once

#include <cstdint>

#include "guest/test_agent/transfer_messages.h"

namespace runvm::test_agent {

// Sends `req` on the agent control stream `control_fd` and waits up to
// timeout_ms for its reply: the byte count the agent reports. Nothing else
// may be in flight on the stream (no container runs: no events either).
Result<uint64_t> request_transfer(int control_fd, const Transfer& req, int timeout_ms);

}  // namespace runvm::test_agent
