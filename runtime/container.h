// Loading and persisting one container's state for the verbs, and working
// out its live status from the shim.
#pragma once

#include <string>

#include "runtime/container_dir.h"
#include "runtime/verbs.h"
#include "shim/client/control.h"
#include "spec/state.h"

namespace runvm::cli {

struct Container {
  ContainerDir dir;
  oci::ContainerState state;  // status and pid are live (see refresh)
};

// Fails with runc's "container does not exist" when there is no such id.
// A container whose `create` is still running reads "creating" (pid 0); one
// left "creating" by a create that died reads stopped.
Result<Container> load_container(const GlobalOptions& g, const std::string& id);

// The container loaded under its lock, so the state read stays true until
// `lock` goes. Waits for a `create` in progress to finish; ENOENT if the
// container does not exist or that create failed.
struct LockedContainer {
  Container ct;
  UniqueFd lock;
};
Result<LockedContainer> lock_container(const GlobalOptions& g, const std::string& id);
Status save_state(const Container& c);

// True while the shim process recorded in the state still runs (pid and
// start time match: a reused pid is not our shim).
bool shim_alive(const oci::ContainerState& s);
// True while `pid` runs (not a zombie) and started at `start_time`.
bool process_running(pid_t pid, uint64_t start_time);

// Sends a control request to the container's shim.
Status shim_request(const Container& c, const control::Request& r);
// The control socket of the shim that holds the container.
std::string shim_socket(const Container& c);

// Parses "SIGTERM", "TERM", "15".
Result<int> parse_signal(const std::string& text);

// Writes `pid` to `path` atomically, as runc does.
Status write_pid_file(const std::string& path, long pid);

}  // namespace runvm::cli
