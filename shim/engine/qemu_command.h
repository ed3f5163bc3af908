// Builds the QEMU microvm argv for a VmConfig. Pure: no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shim/engine/engine.h"

namespace runvm {

// QEMU's option syntax splits on ','; a literal comma is written ",,".
std::string qemu_escape(std::string_view value);

// argv[0] is config.qemu.
std::vector<std::string> qemu_command_line(const VmConfig& config);

}  // namespace runvm
