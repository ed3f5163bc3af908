// The shim's side of `runvm exec` (shim/client/control.h, Exec): one
// session per exec'd process, holding the client's control connection from
// the exec request until the process's exit is reported on it. Runs on the
// shim's serve loop: connections are polled there and read without blocking.
#pragma once

#include <poll.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "guest/protocol/frame.h"
#include "shim/agent/agent_client.h"
#include "shim/client/control.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class ExecSessions {
 public:
  ExecSessions(AgentClient& agent, std::string container_id)
      : agent_(agent), container_id_(std::move(container_id)) {}
  ~ExecSessions();

  // Runs the exec asked for on `conn` and answers; on success keeps `conn`
  // until the process exits.
  void open(UniqueFd conn, control::Exec request);
  // Poll entries for the live sessions' connections.
  void append_pollfds(std::vector<pollfd>& fds) const;
  // Connection `fd` is readable: a kill/resize request, or the client left.
  void on_ready(int fd);
  // Reports the exits the agent sent (queued in AgentClient).
  void deliver_exits();
  // The VM is going away: every session ends with `wait_status`.
  void end_all(int wait_status);
  size_t size() const { return sessions_.size(); }

 private:
  struct Session {
    UniqueFd conn;
    proto::FrameDecoder decoder;
  };
  void handle_client_request(const std::string& exec_id, std::string_view body);
  // One per ExecFollowUp alternative (the std::visit above needs each).
  Status follow_up(const std::string& exec_id, const control::Kill& k);
  Status follow_up(const std::string& exec_id, const control::Resize& r);

  AgentClient& agent_;
  std::string container_id_;
  uint64_t next_ = 1;
  std::map<std::string, Session> sessions_;  // by exec id
};

}  // namespace runvm
