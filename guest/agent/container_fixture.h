// Container tests without a VM: the real Agent runs in a forked child that
// is PID 1 of fresh PID, mount and UTS namespaces (with a procfs of its
// own), so its mounts, hostnames and signals never reach the host, and
// everything dies with it. The test plays the host itself (Host: typed
// frames on the control stream, every message kept in arrival order); the
// agent's dials reach unix sockets the test listens on (as the shim's vsock
// ports). The rootfs is a temp directory with busybox, bound in place of the
// virtio-fs share.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "guest/agent/container.h"
#include "guest/protocol/messages.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent::testing {

// A host-side listener for one stdio port.
struct HostPort {
  uint32_t port = 0;
  UniqueFd listener;
  // The agent's connection (it dials during create, before the reply).
  Result<UniqueFd> accept(int timeout_ms = 5000);
};

// The host's side of the control stream: sends requests, keeps every
// message the agent sends in arrival order (log()), and waits for one by
// what it is: the reply to an id, a container's exit, an exec's exit.
// Waits never consume: the same exit is found again by a second wait.
class Host {
 public:
  // What came back for one request.
  struct Reply {
    bool ok = false;  // `ok` (or `pong`)
    // The error reply's message; "<no reply>" when none came in time, the
    // message's type when it was neither ok nor error.
    std::string error;
    std::optional<uint32_t> exit_code;  // the error reply's (127, 126)
  };

  explicit Host(int fd) : fd_(fd) {}

  // How long a wait without an explicit timeout lasts.
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }
  // Writes `m` as it is (its id too); a failed write fails the test.
  void send(const proto::HostMessage& m);

  // Index in log() of the first message matching `pred`, reading until one
  // arrives; nullopt after timeout_ms (-1: the default) without one. With
  // 0, only what already arrived counts.
  std::optional<size_t> wait(const std::function<bool(const proto::AgentMessage&)>& pred,
                             int timeout_ms = -1);
  std::optional<size_t> reply(uint64_t id, int timeout_ms = -1);
  // The reply to `id`, which must be `ok`.
  void expect_ok(uint64_t id);
  // The message of the error reply to `id` ("" when it is none).
  std::string error_of(uint64_t id);
  // The wait status of the container's (or exec's) exit event.
  std::optional<uint32_t> exit_status(const std::string& cid, int timeout_ms = -1);
  std::optional<uint32_t> exec_status(const std::string& cid, const std::string& eid,
                                      int timeout_ms = -1);
  const std::vector<proto::AgentMessage>& log() const { return log_; }

  // Blocking conveniences: send with a fresh id (from 1'000'000 on, clear
  // of the ids tests pick themselves) and wait for the reply.
  Reply call(proto::HostMessage m);
  Reply create(proto::Create c) { return call(std::move(c)); }
  Reply exec(proto::Exec e) { return call(std::move(e)); }
  Reply start(const std::string& cid) { return call(proto::Start{0, cid}); }
  Reply signal(const std::string& cid, int sig, bool all = false, const std::string& eid = "");
  Reply resize(const std::string& cid, uint16_t rows, uint16_t cols, const std::string& eid = "");
  Reply ping() { return call(proto::Ping{}); }

 private:
  int fd_;
  int timeout_ms_ = 20000;
  uint64_t next_id_ = 1'000'000;
  std::vector<proto::AgentMessage> log_;
};

// For test failure messages.
std::ostream& operator<<(std::ostream& os, const Host::Reply& r);

struct AgentOptions {
  std::chrono::milliseconds setup_timeout = kSetupTimeout;
  std::function<void()> exec_before_join;    // AgentConfig::exec_before_join
  std::function<void()> create_before_join;  // AgentConfig::create_before_join
  // A cgroup2 directory the containers' cgroups go below (RootConfig::
  // cgroup_root); empty: none.
  std::string cgroup_root;
};

class AgentProcess {
 public:
  explicit AgentProcess(AgentOptions options = {});
  ~AgentProcess();

  // Empty when the set-up worked (the agent's hello arrived), else why not.
  const std::string& setup_error() const { return error_; }
  Host& host() { return *host_; }
  // The host end of the control stream.
  int host_fd() const { return host_fd_.get(); }
  const std::string& rootfs() const { return rootfs_; }

  HostPort listen();
  // A create for `args` run by root with PATH=/bin, no stdio.
  static proto::Create request(const std::string& id, std::vector<std::string> args);

 private:
  std::string dir_, rootfs_, error_;
  pid_t pid_ = -1;
  uint32_t next_port_ = 5000;
  UniqueFd host_fd_;
  std::unique_ptr<Host> host_;
};

// Everything until EOF (or timeout: then what arrived so far).
std::string read_all(int fd, int timeout_ms = 10000);
// Whatever is readable right now, without waiting.
std::string read_available(int fd);

}  // namespace runvm::agent::testing
