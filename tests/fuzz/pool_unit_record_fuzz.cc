// Random bytes as a warm-pool unit's `unit` file (runtime/pool_unit.h): a
// torn or hostile file is refused, never crashes; what parses has a pid > 0
// and formats back to exactly the input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runtime/pool_unit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runvm::cli::pool;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto r = parse_unit_record(input);
  if (!r) return 0;
  if (r->pid <= 0 || r->created_s < 0) std::abort();
  if (format_unit_record(*r) != input) std::abort();
  return 0;
}
