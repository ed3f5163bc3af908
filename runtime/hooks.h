// OCI lifecycle hooks (config.json "hooks"), all run on the host.
//
// Where each runs in runvm (docs: man/runvm.8, HOOKS):
//   prestart, createRuntime   `create`, once the VM is booted and the
//                             process created; failure fails create and
//                             removes the container.
//   createContainer           also `create`, on the host: the spec puts it in
//                             the container's namespaces, but a runvm
//                             container's namespaces are a guest kernel's,
//                             where host hook binaries do not exist.
//   startContainer            `start`, on the host, before the process runs;
//                             failure stops the container and fails start.
//   poststart                 `start`, after the process runs; a failure is
//                             a warning.
//   poststop                  `delete`, after the container is gone; a
//                             failure is a warning.
// Each hook gets the OCI state on stdin, its own args and env (the
// runtime's env when it sets none, as in runc) and is killed at `timeout`.
#pragma once

#include <string>
#include <vector>

#include "runtime/config_snapshot.h"
#include "runtime/container.h"
#include "spec/config.h"

namespace runvm::cli {

// Runs one hook to completion. Errors read like runc's: "exit status 1,
// stdout: ..., stderr: ..." or "hook ran past specified timeout of 2.0s".
Status run_hook(const oci::Hook& hook, const std::string& state_json);

// Runs `hooks` in order, stopping at the first failure ("createRuntime
// hook #1: ...").
Status run_hooks(std::string_view kind, const std::vector<oci::Hook>& hooks,
                 const std::string& state_json);

// Runs every hook in `hooks`, logging failures as warnings.
void run_hooks_warn(std::string_view kind, const std::vector<oci::Hook>& hooks,
                    const std::string& state_json);

// prestart (state "created", as the spec says), then createRuntime and
// createContainer (state "creating").
Status run_create_hooks(const Container& c, const oci::Hooks& hooks);

// start's part: startContainer hooks (a failure kills the container and
// fails), the shim's start request, then poststart hooks (warnings).
Status start_with_hooks(const Container& c);

// delete's part: poststop hooks for a container already removed.
void run_poststop_hooks(const Container& c, const oci::Hooks& hooks);

// The hooks of the config the container was created from.
Result<oci::Hooks> load_hooks(const ContainerDir& dir);

// The hook state for `c` with status `s` (pid 0 is left out once stopped).
std::string hook_state(const Container& c, oci::Status s);

}  // namespace runvm::cli
