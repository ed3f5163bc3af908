// What `create` and `run` share: validate the bundle, make the state
// directory, start the shim (which boots the VM and creates the process)
// and record the container. Nothing is left behind on failure.
#pragma once

#include <sys/types.h>

#include <string>

#include "runtime/container.h"

namespace runvm::cli {

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;
  // The process gets pipes whatever our stdio is: a foreground run (runc
  // copies through pipes of its own then). Else it gets the kinds of ours.
  bool stdio_pipes = false;
  // `run`: the shim may start the process as soon as it is created (its
  // --start) where nothing would happen between create and start: a VM of
  // its own, no terminal (whose size the caller sets before start), no
  // hooks but poststop.
  bool start_at_once = false;
};

// Returns the shim's pid (the container's pid). The shim is our child.
// The container's lock is held until its state is final; with `lock_out`
// it is handed over instead of released (`run` keeps it through start).
// `started_out` (with start_at_once): whether the process is started too.
Result<pid_t> create_container(const GlobalOptions& g, const CreateOptions& o,
                               UniqueFd* lock_out = nullptr, bool* started_out = nullptr);

}  // namespace runvm::cli
