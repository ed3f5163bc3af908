// Container tests without a VM: the real Agent runs in a forked child that
// is PID 1 of fresh PID, mount and UTS namespaces (with a procfs of its
// own), so its mounts, hostnames and signals never reach the host, and
// everything dies with it. The test plays the host through a real
// AgentClient (or, raw, speaks frames itself); the agent's dials reach unix
// sockets the test listens on (as the shim's vsock ports). The rootfs is a
// temp directory with busybox, bound in place of the virtio-fs share.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "guest/agent/container.h"
#include "guest/protocol/messages.h"
#include "shim/agent/agent_client.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent::testing {

// A host-side listener for one stdio port.
struct HostPort {
  uint32_t port = 0;
  UniqueFd listener;
  // The agent's connection (it dials during create, before the reply).
  Result<UniqueFd> accept(int timeout_ms = 5000);
};

struct AgentOptions {
  // No AgentClient: the test speaks frames on host_fd() itself (hello read).
  bool raw = false;
  std::chrono::milliseconds setup_timeout = kSetupTimeout;
};

class AgentProcess {
 public:
  explicit AgentProcess(AgentOptions options = {});
  ~AgentProcess();

  // Empty when the set-up worked, else why not.
  const std::string& setup_error() const { return error_; }
  AgentClient& client() { return *client_; }
  // Raw mode: the host end of the control stream.
  int host_fd() const { return host_.get(); }
  const std::string& rootfs() const { return rootfs_; }

  HostPort listen();
  // A create for `args` run by root with PATH=/bin, no stdio.
  static proto::Create request(const std::string& id, std::vector<std::string> args);

 private:
  std::string dir_, rootfs_, error_;
  pid_t pid_ = -1;
  uint32_t next_port_ = 5000;
  std::unique_ptr<AgentClient> client_;
  UniqueFd host_;  // raw mode
};

// Everything until EOF (or timeout: then what arrived so far).
std::string read_all(int fd, int timeout_ms = 10000);
// Whatever is readable right now, without waiting.
std::string read_available(int fd);

}  // namespace runvm::agent::testing
