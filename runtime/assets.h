// Where the guest kernel, initramfs and QEMU are found.
#pragma once

#include <string>
#include <vector>

#include "spec/base/result.h"

namespace runvm::cli {

struct GuestAssets {
  std::string kernel;
  std::string initrd;
  std::string qemu;
};

// Explicit paths win; then RUNVM_KERNEL / RUNVM_INITRD / RUNVM_QEMU; then
// `configured` (runvm.toml's vm.kernel, vm.initrd, vm.qemu; empty: unset);
// then next to the binary (build tree: <build>/guest/, installed:
// <prefix>/lib/runvm/); QEMU from PATH. Errors say where we looked and how
// to fix it.
Result<GuestAssets> find_guest_assets(const std::string& kernel, const std::string& initrd,
                                      const std::string& qemu, const GuestAssets& configured = {});

}  // namespace runvm::cli
