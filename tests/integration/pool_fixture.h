// What the warm-pool suites (pool_test.cc, pool_network_test.cc) read from
// a --root: the unit a container claimed, and a unit's shim.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/read_file.h"

namespace runvm::testing {

// The unit <root>/<id>/state.json names ("" for a cold start).
inline std::string pool_unit_of(const std::string& root, const std::string& id) {
  std::string state = read_file(root + "/" + id + "/state.json");
  size_t at = state.find("\"pool-unit\":\"");
  if (at == std::string::npos) return "";
  at += 13;
  return state.substr(at, state.find('"', at) - at);
}

// The shim pid in the "unit" file of the one unit under <root>/@pool (with
// more, the last one listed); 0 without one.
inline pid_t only_unit_shim(const std::string& root) {
  pid_t shim = 0;
  std::error_code ec;
  for (const auto& cls : std::filesystem::directory_iterator(root + "/@pool", ec)) {
    if (!cls.is_directory()) continue;
    for (const auto& unit : std::filesystem::directory_iterator(cls.path(), ec))
      std::ifstream(unit.path() / "unit") >> shim;
  }
  return shim;
}

}  // namespace runvm::testing
