// Prints the host's TSC frequency in kHz as runvm's engine measures it
// (shim/engine/host_tsc.h), or nothing: the bare boot (bare_boot.sh) gives
// its kernel the same tsc_early_khz= as runvm's TCG guests.
#include <cstdio>

#include "shim/engine/host_tsc.h"

int main() {
  if (auto khz = runvm::host_tsc_khz())
    std::printf("%llu\n", static_cast<unsigned long long>(*khz));
  return 0;
}
