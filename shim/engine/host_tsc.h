// The host's TSC frequency, for a TCG guest's clock. Under TCG a guest's
// RDTSC reads the host's TSC (QEMU's cpu_get_host_ticks), but the guest
// kernel cannot calibrate it: microvm has no HPET or ACPI PM timer to
// calibrate against, and its PIT calibration fails under emulation ("tsc:
// Unable to calibrate against PIT"). The guest then keeps time in jiffies
// (4 ms resolution, and ticks lost while a loaded host starves the vCPU) and
// spends boot time calibrating its delay loop. Given the frequency on its
// command line (tsc_early_khz=), it uses the TSC from the start.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace runvm {

// One reading of the TSC against CLOCK_MONOTONIC_RAW (the host kernel's
// TSC-derived clock, without NTP's slewing).
struct TscSample {
  uint64_t tsc = 0;
  int64_t ns = 0;
};

// A reading whose TSC reads on either side of the clock read are close, so
// the two are of one instant (to ~100 ns); nullopt without an x86 TSC or
// when every try was interrupted.
std::optional<TscSample> sample_tsc();

// kHz between two readings at least `min_ns` apart; nullopt otherwise or for
// an implausible rate (outside 100 MHz..20 GHz).
std::optional<uint64_t> tsc_khz_between(const TscSample& a, const TscSample& b,
                                        int64_t min_ns = 4'000'000);

// Whether /proc/cpuinfo's `flags` (of the first CPU in `cpuinfo`) say the
// TSC ticks at one rate always (constant_tsc) and in every C-state
// (nonstop_tsc): the guest may trust it then.
bool tsc_is_invariant(std::string_view cpuinfo);

// The host's TSC rate, measured between this process's start (a reading
// taken before main) and now: the shim's start-up work until QEMU's spawn
// (~8 ms) is the interval, waited out to 4 ms if shorter. With ~100 ns of
// uncertainty per reading that is within ~50 ppm (the drift of an
// undisciplined crystal). nullopt when the TSC is not invariant or no
// reading succeeded: the guest keeps its jiffies.
std::optional<uint64_t> host_tsc_khz();

}  // namespace runvm
