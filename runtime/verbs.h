// The runvm command line, crun style: one file per verb, each exporting a
// function with this signature. Global options are parsed by main.cc.
#pragma once

#include <string>

#include "spec/base/result.h"

namespace runvm::cli {

struct GlobalOptions {
  std::string root = "/run/runvm";
  std::string log;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
  std::string rootless = "auto";
};

// A verb parses its own argv (argv[0] is the verb name) and returns the
// process exit status; errors come back as Error and are printed by main.
using VerbFn = Result<int> (*)(const GlobalOptions&, int argc, char** argv);

struct Verb {
  const char* name;
  const char* summary;
  VerbFn run;
};

Result<int> verb_check(const GlobalOptions&, int argc, char** argv);

}  // namespace runvm::cli
