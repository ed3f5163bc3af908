// Argument parsing shared by the verbs that take just a container id.
#pragma once

#include <optional>
#include <string>

#include "runtime/verbs.h"

namespace runvm::cli {

// Parses `VERB [--help] CONTAINER_ID`. Prints `usage` and yields nullopt for
// --help; otherwise yields the id and makes it the subject of errors.
Result<std::optional<std::string>> parse_id_only(GlobalOptions& g, int argc, char** argv,
                                                 const char* usage);

}  // namespace runvm::cli
