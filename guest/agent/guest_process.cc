#include "guest/agent/guest_process.h"

#include <signal.h>
#include <sys/wait.h>

namespace runvm::agent {

GuestProcess::~GuestProcess() {
  if (pid_ > 0 && !exited()) ::kill(pid_, SIGKILL);
}

void GuestProcess::abandon() {
  // Not reaped yet, so the pid is still this process (or its zombie).
  if (pid_ > 0 && !exited()) ::kill(pid_, SIGKILL);
  abandoned_ = true;
  exit_reported_ = true;
}

void GuestProcess::attach_stdio(StdioRelays relays, UniqueFd pty_master) {
  relays_ = std::move(relays);
  pty_master_ = std::move(pty_master);
}

std::vector<std::unique_ptr<Relay>> GuestProcess::release_relays() {
  std::vector<std::unique_ptr<Relay>> out;
  for (auto* list : {&relays_.outputs, &relays_.inputs})
    for (auto& r : *list) out.push_back(std::move(r));
  relays_ = {};
  return out;
}

Status GuestProcess::signal(int sig) const {
  if (exited()) return make_error(what_ + " is not running");
  if (::kill(pid_, sig) < 0) return errno_error("kill");
  return {};
}

Status GuestProcess::resize(uint16_t rows, uint16_t cols) const {
  if (!pty_master_) return make_error(what_ + " has no terminal");
  return set_window_size(pty_master_.get(), rows, cols);
}

void GuestProcess::on_reaped(int status) {
  status_ = status;
  for (auto& r : relays_.outputs) r->pump();
}

std::optional<int> GuestProcess::take_exit_status() {
  if (!status_ || exit_reported_ || abandoned_) return std::nullopt;
  for (const auto& r : relays_.outputs)
    if (!r->quiescent()) return std::nullopt;
  exit_reported_ = true;
  return status_;
}

}  // namespace runvm::agent
