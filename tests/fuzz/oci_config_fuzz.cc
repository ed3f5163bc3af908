// Random bytes as config.json (with its runvm.io/* annotations) and as
// runvm's state file: nothing may crash, errors stay one line, and a
// parsed config's derived values hold together.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spec/config.h"
#include "spec/state.h"
#include "spec/vm_annotations.h"

namespace {

void check_one_line(const runvm::Error& e) {
  if (e.message.empty() || e.message.find('\n') != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runvm::oci;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  auto config = parse_config(input);
  if (config.ok()) {
    // The runvm.io/* annotations are parsed by the shim and at create.
    auto vm = parse_vm_annotations(config->annotations);
    if (!vm.ok()) check_one_line(vm.error());
  }
  if (!config.ok()) {
    check_one_line(config.error());
  } else if (config->process) {
    // Validated env always yields a PATH.
    bool has_path = false;
    for (const std::string& e : effective_env(config->process->env))
      has_path |= e.starts_with("PATH=");
    if (!has_path || config->process->args.empty()) std::abort();
  }

  // Whatever parses as a state file must survive a write/read round trip.
  auto state = parse_persisted_state(input);
  if (!state.ok()) {
    check_one_line(state.error());
    return 0;
  }
  auto again = parse_persisted_state(persisted_state_json(*state));
  if (!again.ok() || !(*again == *state)) std::abort();
  return 0;
}
