// runvm-agent: PID 1 of the guest (agent_main.h). Speaks exactly the
// protocol of PROTOCOL.md: no extension.
#include "guest/agent/agent_main.h"

int main() { return runvm::agent::agent_main({}); }
