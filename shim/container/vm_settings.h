// A container's linux.resources and runvm.io/* annotations applied to the
// microVM it boots: memory and vCPUs sized as spec/vm_sizing.h says from the
// shim's flags; the accelerator and kernel command line extras of the
// annotations (spec/vm_annotations.h) override the flags.
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
