// What the agent holds of a process it forked for the host, a container's
// main process or an exec'd one: its pid, terminal, output relays and wait
// status. Both kinds are signalled, resized, reaped and report their exit
// by the same rules, here.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "guest/agent/process_io.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

class GuestProcess {
 public:
  // `what` names the process in errors: `container "c1"`, `exec process "e1"`.
  explicit GuestProcess(std::string what) : what_(std::move(what)) {}
  // A process still running is killed: the agent never leaves one behind.
  ~GuestProcess();
  GuestProcess(const GuestProcess&) = delete;
  GuestProcess& operator=(const GuestProcess&) = delete;

  void forked(pid_t pid) { pid_ = pid; }
  // Its set-up failed: killed unless already reaped; it has no exit to
  // report and is no longer signalled (its pid may be reused once the
  // agent reaped it as an orphan). Never waits: it may hang in the kernel.
  void abandon();
  bool abandoned() const { return abandoned_; }
  // The agent reaped it (abandoned or not).
  bool reaped() const { return status_.has_value(); }
  // The relays of its stdio; with a terminal, the pty master to resize.
  void attach_stdio(StdioRelays relays, UniqueFd pty_master);
  // Its exit was reported: its relays go to the caller, to be kept until
  // they finish (children it left may still hold its stdio).
  std::vector<std::unique_ptr<Relay>> release_relays();

  pid_t pid() const { return pid_; }
  bool exited() const { return status_.has_value() || abandoned_; }
  Status signal(int sig) const;
  Status resize(uint16_t rows, uint16_t cols) const;

  // The agent reaped it: record the status and pull in what it wrote
  // before exiting, which goes to the host first.
  void on_reaped(int status);
  // The wait status to report now, once: it was reaped and the output it
  // wrote before has been delivered to the streams.
  std::optional<int> take_exit_status();
  // take_exit_status returned it (or there is none: abandoned).
  bool exit_taken() const { return exit_reported_; }

 private:
  std::string what_;
  pid_t pid_ = -1;
  UniqueFd pty_master_;  // terminal only
  StdioRelays relays_;
  std::optional<int> status_;
  bool exit_reported_ = false;
  bool abandoned_ = false;
};

}  // namespace runvm::agent
