// Which processes are a container's, for `signal` with `all` now that one
// VM may hold several containers (PROTOCOL.md, "start, signal, resize").
// The rule: with a cgroup (always in the VM), every process in the
// container's cgroup and the cgroups below it: its processes cannot leave
// that subtree (the cgroup namespace is rooted there) and another
// container's never enter it. Without one (host unit tests), every process
// in the container's mount namespace: its main process makes it, exec'd
// processes join it, children inherit it; a process of the container that
// unshares its own mount namespace escapes this rule, which is why the VM
// uses the cgroup.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "spec/base/result.h"

namespace runvm::agent {

// A namespace as the kernel names it: the device and inode of its
// /proc/<pid>/ns/<kind> link.
struct NamespaceId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NamespaceId&) const = default;
};

struct ProcessScope {
  std::string cgroup_dir;               // the container's cgroup; empty: none
  std::optional<NamespaceId> mount_ns;  // used without a cgroup
  // The container's processes still being set up (exec'd ones before their
  // execve): the agent forked them and they join the cgroup and the mount
  // namespace themselves, so either rule may miss them for a while. The
  // agent's unreaped children: their pids name them until it reaps them.
  std::vector<pid_t> joining;
};

// `proc` must be the procfs of the caller's PID namespace (else pids would
// name other processes): checked through <proc>/self.
Result<NamespaceId> mount_namespace_of(pid_t pid, const std::string& proc = "/proc");

// Every pid listed in <dir>/cgroup.procs and in those of the directories
// below it.
Result<std::vector<pid_t>> cgroup_pids(const std::string& dir);
// Every process of <proc> in mount namespace `ns`.
Result<std::vector<pid_t>> namespace_pids(NamespaceId ns, const std::string& proc = "/proc");

// Sends `sig` to every process of the scope but the caller, once each: the
// joining ones, and those the rule lists. With a cgroup it is frozen
// meanwhile (as runc's signalAllProcesses), so none forks past the signal;
// listing repeats until it finds no new process.
Status signal_all(const ProcessScope& scope, int sig, const std::string& proc = "/proc");

}  // namespace runvm::agent
