// Go's time.ParseDuration, for runc-compatible flags such as
// `events --interval 500ms`.
#pragma once

#include <cstdint>
#include <string_view>

#include "spec/base/result.h"

namespace runvm::cli {

// "300ms", "1.5s", "2h45m", "-1s", "0"; units ns us µs ms s m h. Nanoseconds.
Result<int64_t> parse_go_duration(std::string_view text);

}  // namespace runvm::cli
