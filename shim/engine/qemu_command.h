// Builds the QEMU microvm argv for a VmConfig. Pure: no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shim/engine/engine.h"

namespace runvm {

// QEMU's option syntax splits on ','; a literal comma is written ",,".
std::string qemu_escape(std::string_view value);

// The descriptors QEMU inherits instead of opening paths itself (its mount
// namespace holds none of them, docs/security.md): each under its own number.
struct QemuFds {
  int qmp = -1;              // connected QMP stream (our end is the shim's)
  int console = -1;          // the console log, opened for appending; -1: no console
  std::vector<int> devices;  // connected vhost-user streams, one per VmConfig::devices
};

// argv[0] is config.qemu. `fds.devices` has one entry per config.devices.
std::vector<std::string> qemu_command_line(const VmConfig& config, const QemuFds& fds);

}  // namespace runvm
