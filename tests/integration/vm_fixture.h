// Shared helpers for integration tests that boot real microVMs.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "shim/vm/micro_vm.h"
#include "tests/support/read_file.h"
#include "tests/support/require.h"
#include "tests/support/temp_dir.h"

namespace runvm::testing {

struct VmAssets {
  std::string kernel, initrd, build_dir;
  std::string test_initrd;  // with runvm-agent-test (guest/test_agent)
};

// The build tree's kernel and initramfs; empty kernel when not built.
VmAssets vm_assets();

MicroVmConfig vm_config(const std::string& state_dir);
// The same with the test agent, which also answers the test extension of the
// protocol (test_agent::request_transfer).
MicroVmConfig test_agent_vm_config(const std::string& state_dir);
bool process_exists(pid_t pid);
// Names of qemu-system processes whose command line mentions `needle`.
std::vector<pid_t> qemu_processes_mentioning(const std::string& needle);
// Processes whose command line (its NUL-separated bytes) holds every one of
// `parts`; one that exits while it is read is skipped.
std::vector<pid_t> processes_with_cmdline(const std::vector<std::string>& parts);

}  // namespace runvm::testing

// Skips (or fails with RUNVM_REQUIRE_VM=1) when the guest kernel is absent.
#define RUNVM_REQUIRE_VM_ASSETS()                            \
  RUNVM_REQUIRE(!runvm::testing::vm_assets().kernel.empty(), \
                "guest kernel in the build tree (configure with -DRUNVM_KERNEL=...)")
