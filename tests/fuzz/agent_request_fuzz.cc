// Hostile host requests straight into the agent's handler: every input must
// produce a reply that encodes and parses back; nothing may crash.
#include <cstdlib>

#include "guest/agent/agent.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runvm;
  // Dial always fails so transfers stay cheap; the request validation before
  // it is what is under test.
  static agent::Agent agent(
      -1, [](uint32_t) -> Result<UniqueFd> { return make_error("no host in the fuzzer"); });
  auto handled = agent.handle(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!proto::parse_agent_message(proto::to_json(handled.reply)).ok()) std::abort();
  return 0;
}
