// The host's TSC frequency, for a TCG guest's kernel (qemu_command.cc).
// Under TCG the guest's TSC is the host's own (QEMU's rdtsc helper reads
// the host's TSC), but the guest kernel cannot measure its frequency: its
// PIT calibration fails on an emulated vCPU that is late to every tick
// ("Fast TSC calibration failed"), so the TSC is marked unusable. The
// guest then clocks on jiffies (4 ms resolution, and ticks a busy host
// delays are lost) and spins in the delay loop's calibration at boot (~30 ms
// of vCPU time). Told the frequency (tsc_early_khz=), it skips both.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace runvm {

// Whether /proc/cpuinfo's text says the TSC ticks at one rate whatever the
// CPU's frequency and sleep states (flags constant_tsc and nonstop_tsc):
// only then is one frequency right for the guest's whole life.
bool cpuinfo_has_invariant_tsc(std::string_view cpuinfo);

// Whether the host kernel clocks on its TSC (current_clocksource "tsc").
// A kernel that found its TSC unstable, or was told so (tsc=unstable, as
// some nested VMs boot), clocks on another source such as kvm-clock.
bool host_clocksource_is_tsc();

// The host's TSC frequency in kHz, measured against CLOCK_MONOTONIC_RAW
// over ~2 ms; nullopt off x86-64, without an invariant TSC, when the host
// does not clock on its TSC, or when the measurement is implausible.
std::optional<uint64_t> host_tsc_khz();

}  // namespace runvm
