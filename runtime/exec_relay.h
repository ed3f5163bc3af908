// The loop of the process that stands for an exec'd process on the host
// (`runvm exec`, or its child with -d): our stdio <-> the process's vsock
// streams, our signals -> the process, until the shim reports its exit.
#pragma once

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {

struct ExecStreams {
  UniqueFd control;       // the exec's shim connection (shim/control/exec_control.h)
  UniqueFd in, out, err;  // err unset for a terminal
  bool terminal = false;
};

// Returns the process's raw wait status. Output written before the exit is
// delivered first (bounded: background processes may keep the streams).
Result<int> relay_exec(ExecStreams s);

}  // namespace runvm::cli
