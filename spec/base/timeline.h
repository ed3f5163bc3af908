// The --debug phase timeline: one log line per phase of a container's
// start and end ("phase qmp_ready 412.3 ms (+8.1 ms)"), so that where a
// cold start's time goes is read off shim.log (bench/start.sh takes the
// medians). Times count from one origin on CLOCK_MONOTONIC, which every
// process on the host shares: runvm passes its own start to the shim
// (--debug-origin), so both logs count from the moment runvm began.
// Costs one branch per phase without --debug.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace runvm::timeline {

// CLOCK_MONOTONIC in nanoseconds.
int64_t now_ns();

// The origin the phases count from (default: the first call of mark or origin_ns).
void set_origin(int64_t mono_ns);
int64_t origin_ns();

// A phase's line: its name (a word: [a-z0-9_]), the milliseconds since the
// origin and since the previous phase, and an optional detail after " -- ".
std::string format(std::string_view phase, int64_t since_origin_ns, int64_t since_previous_ns,
                   std::string_view detail = {});

// Logs the phase at debug level, timed now. Thread-safe.
void mark(std::string_view phase, std::string_view detail = {});

}  // namespace runvm::timeline
