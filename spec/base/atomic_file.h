// Atomic file replacement: readers (another `runvm` reading state.json, a
// pid-file reader, `runvm state` reading the shim's status) see the old or
// the new content, never a mix.
#pragma once

#include <string>
#include <string_view>

#include "spec/base/result.h"

namespace runvm {

// Writes `data` to `path`.tmp and renames it over `path` (mode 0644). With
// `durable`, the data is fsynced first so it survives a host crash; files
// rewritten on every state change (the shim's status) skip that cost. On
// failure nothing is left behind and `path` is unchanged.
Status write_file_atomic(const std::string& path, std::string_view data, bool durable = true);

}  // namespace runvm
