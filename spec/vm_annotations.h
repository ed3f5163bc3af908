// Per-container microVM settings from config.json annotations:
//   runvm.io/memory          guest RAM, e.g. "512M", "2G", "1536Mi" (64M..1T)
//   runvm.io/vcpus           guest vCPUs, 1..64
//   runvm.io/accel           auto|kvm|tcg
//   runvm.io/kernel-cmdline  appended to the guest kernel's command line
// Any other runvm.io/ key is an error, so a typo is not silently ignored.
// Errors name the annotation: `annotations["runvm.io/vcpus"]: must be ...`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "spec/base/result.h"

namespace runvm::oci {

struct VmSettings {
  std::optional<uint64_t> memory_mib;
  std::optional<unsigned> vcpus;
  std::optional<std::string> accel;
  std::string kernel_cmdline;  // empty: nothing appended
};

Result<VmSettings> parse_vm_annotations(const std::map<std::string, std::string>& annotations);

// "512M" and friends: a positive integer with an optional binary suffix
// K/M/G/T (also Ki, KB, KiB...; case-insensitive), no suffix = bytes.
// Returns bytes; nullopt when malformed or above 2^63.
std::optional<uint64_t> parse_byte_size(std::string_view s);

}  // namespace runvm::oci
