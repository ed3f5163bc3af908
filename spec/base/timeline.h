// The --debug phase timeline: one log line per phase of a container's
// start and end ("phase qmp_ready 412.3 ms (+8.1 ms)"), so that where a
// cold start's time goes is read off shim.log (bench/start.sh takes the
// medians). Times count from one origin on CLOCK_MONOTONIC, which every
// process on the host shares: runvm passes its own start to the shim
// (--debug-origin), so both logs count from the moment runvm began.
// Costs one branch per phase without --debug.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Logs the phase at debug level, timed now. Thread-safe. With vCPU clocks
// set, the line ends in "vcpu_ms=N": the guest's CPU time so far.
void mark(std::string_view phase, std::string_view detail = {});

// The guest's CPU time beside each phase: the vCPU threads' schedstat files
// (/proc/PID/task/TID/schedstat), which the engine opens once QEMU runs
// (--debug only). On a loaded host a phase's wall time counts the wait for
// a core too; the vCPU's CPU time does not, so what the guest spends in a
// phase reads the same however busy the host is. Takes the descriptors;
// an empty list closes them.
void set_vcpu_clocks(std::vector<int> schedstat_fds);

// The nanoseconds on CPU in a schedstat file's text (its first field).
std::optional<int64_t> parse_schedstat_ns(std::string_view text);

}  // namespace runvm::timeline
