// A container's runvm.io/* annotations (spec/vm_annotations.h) applied to the
// microVM it boots: memory, vCPUs, accelerator and kernel command line
// extras override the shim's defaults and flags.
#pragma once

#include <string>

#include "shim/engine/engine.h"
#include "spec/config.h"

namespace runvm {

// `accel_reason` gets the accelerator choice's one-line reason when the
// annotations pick one. Fails naming the annotation (runvm.io/accel "kvm"
// without usable KVM fails here, with choose_accel's reason).
Status apply_vm_settings(const oci::Config& config, MachineConfig& vm, std::string* accel_reason,
                         const std::string& accel_root = "/");

}  // namespace runvm
