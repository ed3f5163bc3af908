// Timestamps as Go's time.RFC3339Nano writes them, which is how runc prints
// "created" in `state` and `list`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "spec/base/result.h"

namespace runvm::oci {

// "2006-01-02T15:04:05.999999999Z" in UTC: trailing zeros of the fraction
// dropped, no fraction at all on a whole second.
std::string format_rfc3339_nano(int64_t unix_ns);

// Inverse of the above; also accepts a "+hh:mm"/"-hh:mm" offset.
Result<int64_t> parse_rfc3339_nano(std::string_view s);

// Now, in Unix nanoseconds (CLOCK_REALTIME).
int64_t now_unix_ns();

}  // namespace runvm::oci
