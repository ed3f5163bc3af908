// A process's start time from /proc/<pid>/stat (field 22, clock ticks since
// boot). Stored next to a pid so a later reader can tell the process from an
// unrelated one that reused its pid.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "spec/base/result.h"

namespace runvm::oci {

Result<uint64_t> process_start_time(pid_t pid);

// Field 22 of a stat line. comm (field 2) may hold spaces and ')', so
// fields are counted from the last ')'.
Result<uint64_t> parse_stat_start_time(std::string_view stat);

}  // namespace runvm::oci
