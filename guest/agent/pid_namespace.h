// Where the agent's children go in PID namespaces. The VM's first container
// and pod members that share the sandbox's PID namespace live in the
// agent's; a pod member whose spec asks for a new one gets its own, its
// main process as PID 1 (issue 12), and its exec'd processes join it, as
// runc's `exec` joins the container's.
#pragma once

#include <sys/types.h>

#include "spec/base/result.h"

namespace runvm::agent {

struct PidNamespaceTarget {
  bool create = false;  // a new one: the child is its PID 1
  pid_t join = 0;       // > 0: that process's (in the agent's numbering)
};

// fork(2) into `target` (neither set: the agent's own). 0 in the child.
// The agent's later children are in its own namespace again.
Result<pid_t> fork_in_pid_namespace(const PidNamespaceTarget& target);

}  // namespace runvm::agent
