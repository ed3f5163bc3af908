// Drives QmpProtocol with what a hostile or broken QEMU could send: each
// input line is fed as received, and commands are started whenever the
// session allows, so replies meet every state (greeting, negotiation, a
// pending command, none); replies go through the query-cpus-fast parser
// and every line through the cpuset parser. Asserts the state machine's own invariants.
#include <cstdlib>
#include <string_view>

#include "shim/engine/qmp.h"
#include "shim/engine/vcpu_affinity.h"

using namespace runvm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  QmpProtocol p;
  size_t events = 0;
  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    const auto before = p.state();
    auto step = p.on_line(line);
    if (!step) {
      if (step.error().message.find("; received: ") == std::string::npos) std::abort();
      return 0;  // a protocol error ends the session
    }
    // Only the greeting makes the protocol speak on its own.
    if (!step->send.empty() && before != QmpProtocol::State::kAwaitGreeting) std::abort();
    if (step->reply && p.busy()) std::abort();
    // A reply's return value as query-cpus-fast's (shim/engine/vcpu_affinity.h):
    // only positive thread ids come out; the line doubles as a cpuset list.
    if (step->reply && *step->reply) {
      if (auto tids = vcpu_threads_from_qmp(**step->reply))
        for (pid_t t : *tids)
          if (t <= 0) std::abort();
    }
    (void)cpu_mask_from_list(line);
    if (p.ready() && !p.busy()) {
      const size_t n = events++;
      auto cmd = p.command(n % 2 ? "query-status" : "cont", n % 3 ? "" : R"({"a":1})");
      if (!cmd || cmd->empty() || cmd->back() != '\n') std::abort();
    }
    if (p.take_events().size() > 64) std::abort();
  }
  return 0;
}
