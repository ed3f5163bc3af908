// The container's main process between fork and execve: it joins the
// container's cgroup, enters the prepared root in a private mount namespace
// (mounts, /dev, root propagation), takes on the requested
// identity and limits, resolves the executable, reports "ready", and waits
// for start. The agent talks to it over a SOCK_SEQPACKET pair (InitSync).
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "guest/agent/capabilities.h"
#include "guest/agent/seccomp_filter.h"
#include "guest/protocol/container_messages.h"
#include "spec/base/result.h"

namespace runvm::agent {

// Messages on the sync pair:
//   process -> agent: kReady, or kFailed + <exit code byte> + message;
//   agent -> process: kStart.
// The process's end is close-on-exec: after a successful execve the agent
// reads EOF. An execve that fails after start is reported as kFailed too.
namespace init_sync {
inline constexpr char kReady = 'R';
inline constexpr char kFailed = 'E';
inline constexpr char kStart = 'S';
inline constexpr size_t kMaxMessage = 1024;
}  // namespace init_sync

// Everything the process needs, resolved by the agent before fork.
struct InitPlan {
  const proto::Create* request = nullptr;
  std::string root;             // the agent's path of the prepared root
  int stdio[3] = {-1, -1, -1};  // become fds 0, 1, 2
  bool terminal = false;        // stdio[0] is the pty slave to make our ctty
  int sync_fd = -1;             // close-on-exec end of the sync pair
  std::vector<std::pair<int, rlimit>> rlimits;
  // exec: join this running process's mount namespace (the container's
  // root) instead of entering `root`; hostname and read-only root are
  // already the container's.
  pid_t join_pid = 0;
  // A pidfd of join_pid, opened by the agent: in the child the number may
  // name nothing (it is in the container's own PID namespace by then).
  int join_pidfd = -1;
  // Resolved before fork (process_security.h); null: leave alone / none.
  const CapabilityPlan* capabilities = nullptr;
  const SeccompFilter* seccomp = nullptr;
  // Per request mount: its detached bind source (container_mounts.h) or -1.
  std::vector<int> mount_sources;
  // A detached clone of the guest's devpts, for /dev/pts (not for exec).
  int pts_tree = -1;
  // The container's cgroup in the agent's view (container_cgroup.h); empty: none.
  std::string cgroup_dir;
  // Host tests only (AgentConfig::exec_before_join, create_before_join): runs
  // first in the child, before it joins anything. Empty: nothing.
  std::function<void()> before_join;
};

// Runs in the forked child; never returns.
[[noreturn]] void run_container_init(const InitPlan& plan);

// RLIMIT_* number for an OCI rlimit name ("RLIMIT_NOFILE").
Result<int> rlimit_resource(std::string_view name);

}  // namespace runvm::agent
