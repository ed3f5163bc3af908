// Internal: the parts of parse_config(), one file per config section.
#pragma once

#include "spec/base/json.h"
#include "spec/config.h"

namespace runvm::oci::detail {

Result<Process> parse_process(const json::Value& v);      // config_process.cc
Result<Linux> parse_linux(const json::Value& v);          // config_linux.cc
Result<Resources> parse_resources(const json::Value& v);  // config_resources.cc
Result<Seccomp> parse_seccomp(const json::Value& v);      // config_seccomp.cc

// Shared by process.env and hooks[].env.
Result<std::vector<std::string>> parse_env(const json::Value& obj);

}  // namespace runvm::oci::detail
