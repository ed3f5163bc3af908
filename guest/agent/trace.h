// The guest's half of the --debug phase timeline (spec/base/timeline.h):
// with `runvm.debug` on the kernel command line (the shim adds it under
// --debug), the agent writes one console line per phase of a container's
// start and end, "runvm-agent: phase NAME MS ms", MS on the guest's
// CLOCK_BOOTTIME, the clock of the hello's boot_ns. Off otherwise: one
// branch per phase, and nothing on the console.
#pragma once

#include <cstdint>
#include <string_view>

namespace runvm::agent::trace {

// Turns the trace on if /proc/cmdline has the word runvm.debug.
void enable_from_cmdline();
void enable(bool on);
bool enabled();

// The phase's line, timed now (no-op when off).
void mark(std::string_view phase);
// The phase's line for a time taken earlier (CLOCK_BOOTTIME ns): the steps
// before /proc is mounted, when whether to trace is not known yet.
void mark_at(std::string_view phase, uint64_t boottime_ns);
// CLOCK_BOOTTIME now, in ns: what mark_at takes.
uint64_t now_ns();

// While one lives, phases are marked "PREFIX/NAME" (in this process and the
// ones it forks): a pool unit's rehearsal (rehearsal.h) runs a container's
// set-up before its hello, and its init_* phases would otherwise read as
// the claimed container's in that container's console timeline. A '/' is no
// word character: bench/guest_phases.py skips them.
class Prefix {
 public:
  explicit Prefix(const char* prefix);
  ~Prefix();
  Prefix(const Prefix&) = delete;
  Prefix& operator=(const Prefix&) = delete;

 private:
  const char* previous_;
};

}  // namespace runvm::agent::trace
