// `runvm-shim --check`, which `runvm check` runs (like `kata-runtime check`):
// boots a throwaway microVM, times agent round-trips over our vsock, shuts it
// down and prints the report on stdout.
#pragma once

#include "shim/engine/accel.h"
#include "shim/vm/micro_vm.h"
#include "spec/base/result.h"

namespace runvm {

// `config` has the accelerator already chosen (`accel`, reported as is).
Status run_vm_check(const MicroVmConfig& config, const AccelChoice& accel, int pings);

}  // namespace runvm
