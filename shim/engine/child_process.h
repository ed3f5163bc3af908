// A spawned helper process (the hypervisor) owned like a resource: it dies
// with us (PR_SET_PDEATHSIG), and destroying the handle kills and reaps it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "shim/engine/confinement.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ~ChildProcess();

  // Runs argv[0] (searched in PATH) with stdin from /dev/null, stdout and
  // stderr appended to `log_path` (/dev/null when empty), no other fds but
  // `inherit` (under the same numbers, each above 2), and default signal
  // state. With `confinement`, the child is confined by it just before exec
  // (confinement.h). Fails if the program cannot be confined or executed.
  static Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                    const std::string& log_path,
                                    const std::vector<int>& inherit = {},
                                    const PreparedConfinement* confinement = nullptr);

  bool valid() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool reaped() const { return status_.has_value(); }

  // True once the process has exited (reaped or not); never blocks.
  bool exited() const;
  // Waits up to `timeout` for exit without reaping; true if it exited.
  Result<bool> wait_exit(std::chrono::milliseconds timeout) const;
  Status signal(int sig) const;
  // Reaps (blocking); returns the wait status, cached for later calls.
  Result<int> wait();
  // The CPU time (user + system, its threads' and reaped children's) of
  // the reaped process, in ms; 0 before it was reaped.
  int64_t cpu_ms() const { return cpu_ms_; }
  // SIGKILL and reap unless already reaped.
  void kill_and_reap();

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::optional<int> status_;
  int64_t cpu_ms_ = 0;
};

// `name` as found in PATH, or itself when it has a '/'.
Result<std::string> find_program(const std::string& name);

// "exited with status N" / "killed by signal SIGKILL".
std::string describe_wait_status(int status);

}  // namespace runvm
