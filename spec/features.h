// `runvm features` (runtime-spec features.md): what this runtime accepts in
// config.json, in the shape runc 1.1 prints (four-space indent, trailing
// newline).
#pragma once

#include <string>

namespace runvm::oci {

std::string features_json();

}  // namespace runvm::oci
