// Executable resolution with runc 1.1's (Go's exec.LookPath) semantics and
// wording, run inside the container after its user was set.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "spec/base/result.h"

namespace runvm::agent {

// Shell exit codes for an executable that is missing / not executable.
inline constexpr uint8_t kExitNotFound = 127;
inline constexpr uint8_t kExitNotExecutable = 126;

// A file containing '/' is checked as is; otherwise each entry of `path`
// (the PATH value; empty entries mean ".") is tried in order. Errors read
// `exec: "foo": executable file not found in $PATH`, `exec: "/bin/foo":
// stat /bin/foo: no such file or directory` or `exec: "/etc/passwd":
// permission denied`, with Error::code set to the matching exit code.
Result<std::string> look_path(std::string_view file, std::string_view path);

// The value of `name` in a KEY=value list, nullopt-like "" with found=false.
std::string_view env_value(const std::vector<std::string>& env, std::string_view name,
                           bool* found = nullptr);

}  // namespace runvm::agent
