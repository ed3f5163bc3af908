// Reading and writing the kernel's control files (/proc/sys, cgroupfs,
// /proc/self/...): one value per write, EINTR retried, short writes and
// symlinks refused, errors naming the file.
#pragma once

#include <string>

#include "spec/base/result.h"

namespace runvm::agent {

Result<std::string> read_kernel_file(const std::string& path);
Status write_kernel_file(const std::string& path, const std::string& value);

}  // namespace runvm::agent
