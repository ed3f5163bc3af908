// Ending a process the way one of its children ended, so a parent sees the
// same wait status (runc's behaviour for `run` and `exec`).
#pragma once

namespace runvm {

// If `wait_status` is a death by signal, dies of that signal (without a core
// dump of our own). Otherwise, or if the signal turns out not to be fatal,
// returns the exit code to exit with.
int become_wait_status(int wait_status);

}  // namespace runvm
