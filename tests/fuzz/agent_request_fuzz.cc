// Hostile host requests straight into the agent's handler: every input must
// produce a reply that encodes and parses back; nothing may crash.
#include <sched.h>

#include <cstdlib>

#include "guest/agent/agent.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runvm;
  // runvm-agent's handler (no test extension). Dial always fails, and a
  // create that gets past validation fails at its root mount (a bind of a
  // path that does not exist): the validation before them is what is under
  // test.
  static auto agent = [] {
    // configure_network acts on this thread's network namespace: an empty
    // one of its own, so no input can touch the host's links (as root the
    // fuzzer could otherwise learn a host MAC through its memcmp hooks).
    // Without the privilege to unshare there is none to change links either.
    (void)::unshare(CLONE_NEWNET);
    agent::AgentConfig config;
    config.dial = [](uint32_t) -> Result<UniqueFd> { return make_error("no host in the fuzzer"); };
    config.root.root_dir = "/tmp/runvm-agent-fuzz/rootfs";
    config.root.bind_rootfs = "/nonexistent/runvm-agent-fuzz";
    auto a = agent::Agent::create(-1, std::move(config));
    if (!a.ok()) std::abort();
    return std::move(*a);
  }();
  auto handled = agent->handle(std::string_view(reinterpret_cast<const char*>(data), size));
  // Always at once: a deferred reply would mean a process was forked.
  if (!handled.reply || !proto::parse_agent_message(proto::to_json(*handled.reply)).ok())
    std::abort();
  return 0;
}
