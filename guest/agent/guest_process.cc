#include "guest/agent/guest_process.h"

#include <signal.h>
#include <sys/wait.h>

namespace runvm::agent {

GuestProcess::~GuestProcess() {
  if (pid_ > 0 && !status_) ::kill(pid_, SIGKILL);
}

void GuestProcess::kill_and_reap() {
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  status_ = 0;  // reaped here: nothing to report, nothing to kill
  exit_reported_ = true;
}

void GuestProcess::attach_terminal(TerminalRelays relays, UniqueFd pty_master) {
  relays_ = std::move(relays);
  pty_master_ = std::move(pty_master);
}

Status GuestProcess::signal(int sig) const {
  if (status_) return make_error(what_ + " is not running");
  if (::kill(pid_, sig) < 0) return errno_error("kill");
  return {};
}

Status GuestProcess::resize(uint16_t rows, uint16_t cols) const {
  if (!pty_master_) return make_error(what_ + " has no terminal");
  return set_window_size(pty_master_.get(), rows, cols);
}

void GuestProcess::on_reaped(int status) {
  status_ = status;
  if (relays_.output) relays_.output->pump();
}

std::optional<int> GuestProcess::take_exit_status() {
  if (!status_ || exit_reported_) return std::nullopt;
  if (relays_.output && !relays_.output->quiescent()) return std::nullopt;
  exit_reported_ = true;
  return status_;
}

}  // namespace runvm::agent
