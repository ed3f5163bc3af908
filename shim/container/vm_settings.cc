#include "shim/container/vm_settings.h"

#include "shim/engine/accel.h"
#include "spec/vm_annotations.h"
#include "spec/vm_sizing.h"

namespace runvm {

Status apply_vm_settings(const oci::Config& config, MachineConfig& vm, std::string* accel_reason,
                         const std::string& accel_root) {
  oci::VmSettings s = RUNVM_TRY(oci::parse_vm_annotations(config.annotations));
  // The flags (runvm.toml's) are the defaults the container's resources and
  // annotations size from.
  oci::VmSize size = RUNVM_TRY(oci::size_vm(config, {vm.memory_mib, vm.vcpus}));
  vm.memory_mib = size.memory_mib;
  vm.vcpus = size.vcpus;
  if (config.linux_ && config.linux_->resources && config.linux_->resources->cpu)
    vm.cpuset = config.linux_->resources->cpu->cpus;
  if (!s.kernel_cmdline.empty())
    vm.cmdline_extra += (vm.cmdline_extra.empty() ? "" : " ") + s.kernel_cmdline;
  if (s.accel) {
    AccelMode mode = RUNVM_TRY(parse_accel(*s.accel));
    AccelChoice choice =
        RUNVM_TRY(choose_accel(mode, accel_root).context("annotations[\"runvm.io/accel\"]"));
    vm.kvm = choice.kvm;
    if (accel_reason) *accel_reason = choice.reason;
  }
  return {};
}

}  // namespace runvm
