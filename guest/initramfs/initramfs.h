// Builds the guest initramfs: an uncompressed newc cpio whose /init is
// runvm-agent. The output is deterministic (same inputs, same bytes) so it can
// be cached and compared, and is replaced atomically.
#pragma once

#include <string>

#include "spec/base/result.h"

namespace runvm::initramfs {

struct InitramfsSpec {
  std::string agent_path;  // becomes /init, mode 0755
};

Status build_initramfs(const InitramfsSpec& spec, const std::string& out_path);

}  // namespace runvm::initramfs
