// `runvm events` output: runc's types.Event with its types.Stats, field for
// field, so tools that parse runc's events parse ours.
#pragma once

#include <string>

#include "runtime/host_procs.h"

namespace runvm::cli {

// {"type":"stats","id":ID,"data":{...}} and a newline, as Go's
// json.Encoder writes it. Filled from the container's host processes:
// cpu.usage (total/kernel/user), memory.usage.usage (resident bytes) and
// pids.current; what runvm cannot measure stays zero (and is then left out
// where runc's encoding omits zero values).
std::string stats_event_json(const std::string& id, const HostUsage& u);

// runc's OOM event: {"type":"oom","id":ID} (no data), one line.
std::string oom_event_json(const std::string& id);

}  // namespace runvm::cli
