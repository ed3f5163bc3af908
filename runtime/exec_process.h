// The process `runvm exec` runs, from its flags the way runc builds it:
// --process FILE as given, else the container's config.json process with
// the command and the -e/--cwd/-u/-g/--cap/--no-new-privs/-t overrides.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "spec/config.h"

namespace runvm::cli {

struct ExecFlags {
  std::string process_file;
  std::vector<std::string> args;  // the command, when no --process
  std::vector<std::string> env;   // appended
  std::string cwd;
  std::string user;  // "uid[:gid]"
  std::vector<uint32_t> additional_gids;
  std::vector<std::string> caps;
  std::optional<bool> tty;
  bool no_new_privs = false;
};

// `bundle_process`: the container's config.json process (the defaults).
Result<oci::Process> exec_process(const ExecFlags& f, const oci::Process& bundle_process);

}  // namespace runvm::cli
