// The runvm command line, crun style: one file per verb, each exporting a
// function with this signature. Global options are parsed by main.cc.
#pragma once

#include <string>

#include "spec/base/result.h"
#include "spec/runvm_config.h"

namespace runvm::cli {

struct GlobalOptions {
  std::string root = "/run/runvm";
  std::string log;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
  std::string rootless = "auto";
  // --config (runvm.toml(5)); empty: $RUNVM_CONFIG, else /etc/runvm/runvm.toml.
  std::string config_path;
  // Loaded by main for the verbs that boot a VM (create, run, check); the
  // built-in defaults for the others, which must work whatever the file holds.
  config::RunvmConfig config;
  // Set by a verb once it knows which container it acts on, so errors read
  // "runvm: create c1: ...".
  std::string subject;
  // The exit status of an error: 1, or what the verb sets (runc's exec
  // exits 255 once its arguments are parsed).
  int error_status = 1;
};

// A verb parses its own argv (argv[0] is the verb name) and returns the
// process exit status; errors come back as Error and are printed by main.
using VerbFn = Result<int> (*)(GlobalOptions&, int argc, char** argv);

struct Verb {
  const char* name;
  const char* summary;
  VerbFn run;
};

Result<int> verb_check(GlobalOptions&, int argc, char** argv);
Result<int> verb_create(GlobalOptions&, int argc, char** argv);
Result<int> verb_start(GlobalOptions&, int argc, char** argv);
Result<int> verb_run(GlobalOptions&, int argc, char** argv);
Result<int> verb_state(GlobalOptions&, int argc, char** argv);
Result<int> verb_kill(GlobalOptions&, int argc, char** argv);
Result<int> verb_delete(GlobalOptions&, int argc, char** argv);
Result<int> verb_spec(GlobalOptions&, int argc, char** argv);
Result<int> verb_features(GlobalOptions&, int argc, char** argv);
Result<int> verb_exec(GlobalOptions&, int argc, char** argv);
Result<int> verb_list(GlobalOptions&, int argc, char** argv);
Result<int> verb_pause(GlobalOptions&, int argc, char** argv);
Result<int> verb_resume(GlobalOptions&, int argc, char** argv);
Result<int> verb_ps(GlobalOptions&, int argc, char** argv);
Result<int> verb_events(GlobalOptions&, int argc, char** argv);
Result<int> verb_update(GlobalOptions&, int argc, char** argv);
Result<int> verb_checkpoint(GlobalOptions&, int argc, char** argv);
Result<int> verb_restore(GlobalOptions&, int argc, char** argv);
Result<int> verb_pool(GlobalOptions&, int argc, char** argv);

}  // namespace runvm::cli
