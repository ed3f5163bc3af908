// The agent's program: PID 1 of the guest. Sets up the minimal system, dials
// the host over vsock, says hello, serves requests, and powers the VM off
// when the host goes away or asks to. Run as any other PID (debugging) it
// skips the system setup and exits instead of powering off.
//
// Shared by runvm-agent (no extension) and runvm-agent-test (the test
// extension of guest/test_agent).
#pragma once

#include "guest/agent/agent.h"

namespace runvm::agent {

// Never returns as PID 1 (powers off); otherwise the exit status.
int agent_main(ExtensionFn extension);

}  // namespace runvm::agent
