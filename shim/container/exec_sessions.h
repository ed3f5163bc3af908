// The shim's side of `runvm exec` (shim/client/control.h, Exec) for one
// container: one session per exec'd process, holding the client's control
// connection from the exec request until the process's exit is reported on
// it. On the shim's event loop: the exec's set-up is an agent request like
// any other (nothing waits for it), the connection is read without blocking
// for follow-ups (kill, resize), and the agent's exec_exit events end
// sessions.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "guest/protocol/frame.h"
#include "shim/agent/agent_client.h"
#include "shim/client/control.h"
#include "spec/base/event_loop.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class ExecSessions {
 public:
  ExecSessions(EventLoop& loop, AgentClient& agent, std::string container_id)
      : loop_(loop), agent_(agent), container_id_(std::move(container_id)) {}
  ~ExecSessions();  // as end_all(SIGKILL)
  ExecSessions(const ExecSessions&) = delete;
  ExecSessions& operator=(const ExecSessions&) = delete;

  // Asks the agent for the exec on `conn`'s behalf; its reply is answered on
  // `conn` (a refusal with the agent's exit_code as is), which on success
  // stays until the process exits.
  void open(UniqueFd conn, control::Exec request);
  // The agent reported an exec'd process's exit.
  void on_exit(const proto::ExecExit& exit);
  // The container is gone: every session (set up or being set up) ends
  // with `wait_status`.
  void end_all(int wait_status);
  size_t size() const { return sessions_.size(); }

 private:
  struct Session {
    UniqueFd conn;
    proto::FrameDecoder decoder{64 * 1024};
    bool started = false;                // the exec's reply was sent: conn is watched
    std::optional<uint32_t> early_exit;  // reaped before its reply arrived
  };
  void on_started(const std::string& exec_id, AgentClient::Reply reply);
  void on_readable(const std::string& exec_id);
  void report_exit(const std::string& exec_id, int wait_status);
  void handle_follow_up(const std::string& exec_id, std::string_view body);
  // One per ExecFollowUp alternative (the std::visit above needs each).
  void follow_up(const std::string& exec_id, const control::Kill& k);
  void follow_up(const std::string& exec_id, const control::Resize& r);

  EventLoop& loop_;
  AgentClient& agent_;
  std::string container_id_;
  uint64_t next_ = 1;
  std::map<std::string, std::unique_ptr<Session>> sessions_;  // by exec id
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace runvm
