// The loop of the process that stands for an exec'd process on the host
// (`runvm exec`, or its child with -d): the process's vsock streams <-> our
// stdio or a console's slave, our signals and window size -> the process,
// until the shim reports its exit.
#pragma once

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm {
class Console;
}

namespace runvm::cli {

class HostTerminal;

// Where a terminal's host side is (both borrowed): a console whose master
// went to --console-socket, or the caller's terminal (raw already).
struct ExecTerminal {
  Console* console = nullptr;
  const HostTerminal* host = nullptr;
};

struct ExecStreams {
  UniqueFd control;       // the exec's shim connection (shim/client/control.h, Exec)
  UniqueFd in, out, err;  // err unset for a terminal
  bool terminal = false;
  ExecTerminal tty;
};

// Returns the process's raw wait status. Output written before the exit is
// delivered first (bounded: background processes may keep the streams).
Result<int> relay_exec(ExecStreams s);

}  // namespace runvm::cli
