// Opening a path that was checked earlier without following any symlink, so
// that what is used is what was checked (issue 15: a bind source or rootfs
// swapped for a symlink to /etc between the check and the use).
#pragma once

#include <string>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::oci {

// An O_PATH descriptor of `canonical` (absolute, every symlink already
// resolved: a realpath(3) result), opened one component at a time with
// O_NOFOLLOW. A component that is (now) a symlink fails with ELOOP and
// "<prefix> is a symlink: changed since it was resolved"; a missing one
// with "<prefix>: No such file or directory". Only openat(2) and fstat(2), which every shim thread
// role may call (shim/confine).
Result<UniqueFd> open_no_symlinks(const std::string& canonical);

}  // namespace runvm::oci
