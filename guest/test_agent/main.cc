// runvm-agent-test: runvm-agent plus the test extension ("transfer",
// PROTOCOL.md). Only in the test initramfs; never installed.
#include "guest/agent/agent_main.h"
#include "guest/test_agent/transfer.h"

int main() { return runvm::agent::agent_main(runvm::test_agent::handle_request); }
