// The host side of pods (issue 12) for the verbs: finding a member's
// sandbox under --root, and the member's host process (its relay).
//
// A sandbox's shim exports <sandbox state dir>/pod (layout::kPodDir) to its
// VM as the share "pod"; a member's rootfs is bind-mounted there by that
// shim when the member is created and unmounted when it ends. The member's
// own host process (the pid runc's callers wait on) is a relay with no VMM:
// a child of `runvm create` that holds the member's control connection to
// the sandbox's shim (control::Create), relays its stdio streams and
// signals, and exits with the member's exact status.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "runtime/container.h"
#include "runtime/pod_role.h"

namespace runvm::cli {

// Marks a sandbox's state (ShimInfo::extra): its VM takes members.
inline constexpr char kPodExtraKey[] = "pod";
inline constexpr char kPodSandbox[] = "sandbox";
inline constexpr char kPodMemberOf[] = "member-of";

// The id of the running runvm container under `root` whose shim has `pid`.
std::optional<std::string> runvm_shim_owner(const std::string& root, long pid);

// The sandbox a member joins, created or running, whose VM takes members.
// Otherwise one error: `sandbox "x": not a running runvm container`.
Result<Container> running_sandbox(const GlobalOptions& g, const std::string& sandbox_id);

// The container's role for `create`, looking shims up under g.root.
Result<PodRole> container_pod_role(const GlobalOptions& g, const oci::Config& config,
                                   const std::string& id);

// The member's socket paths are its sandbox's shim's.
std::string shim_socket_of(const Container& c);
std::string vsock_socket_of(const Container& c);

// Forks the member's relay: it sends control::Create for `member` (whose
// state dir exists) to the sandbox's shim and, once the member's process is
// created, stays to relay it. With a terminal, the relay sends the pty
// master to `console_socket` first (runc's protocol) and relays the guest's
// pty to its slave. Returns the relay's pid (the member's pid). `lock_fd`,
// create's hold on the member's lock, is closed in the relay: a fork shares
// the flock, and the relay lives as long as the member. A pool unit's
// container (pool.h), whose pid must name its network namespace as a cold
// one's shim does: the relay joins `netns_fd` (when >= 0), or else with
// `fresh_netns` runs in a new, empty one. With `start` (a claiming `run`
// with nothing to do between create and start), the shim starts the
// process with its create: the relay reports created once it execed.
// `first`: run in the relay before anything else (a claim's host cgroup
// placement: the relay joins with its unit's processes, in one migration);
// its failure is the launch's. `alongside`: run here with the relay's pid
// while the relay has the shim create the process (that placement when the
// process waits for `start`: it takes an RCU grace period on cgroup v1,
// ~10 ms, which then overlaps the guest's create); done before this
// returns, and its failure kills the relay and is the launch's.
Result<pid_t> launch_member_relay(const Container& member, const Container& sandbox,
                                  const oci::Process& process, const std::string& console_socket,
                                  int lock_fd, int netns_fd = -1, bool fresh_netns = false,
                                  bool start = false, const std::function<Status()>& first = {},
                                  const std::function<Status(pid_t)>& alongside = {});

// After a member's relay was killed: waits (bounded) until its sandbox's
// shim unbound the member's rootfs and bind sources, so that `delete`
// leaves no mount behind. Nothing to wait for when `member` is no member.
void wait_member_unbound(const GlobalOptions& g, const Container& member);

}  // namespace runvm::cli
