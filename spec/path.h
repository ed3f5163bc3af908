// Lexical path helpers with Go's filepath semantics (runc resolves bundle
// and rootfs paths this way).
#pragma once

#include <string>
#include <string_view>

#include "spec/base/result.h"

namespace runvm::oci {

// filepath.Clean: collapses "//", "." and ".." without touching the disk.
// "" becomes ".", and ".." cannot climb above "/".
std::string clean_path(std::string_view p);

// filepath.Abs: `p` joined to the working directory if relative, cleaned.
Result<std::string> absolute_path(std::string_view p);

}  // namespace runvm::oci
