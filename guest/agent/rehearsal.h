// A pool unit's rehearsal: while it waits for its claim, the agent sets up
// and runs one throwaway container the way a real create and start do
// (process_init.h), its root a scratch directory of the premounted share
// (where a claimed container's root is bound from too), exec'ing a copy of
// the agent from there. Under TCG the guest pays for
// translating every kernel and agent path the first time it runs it, and a
// claimed container's create, start and exec ran each of them for the first
// time: a second run of the same exec set-up took 3 ms where the first took
// 19 ms. The rehearsal pays that while the unit is idle.
#pragma once

#include <string>

#include "guest/agent/container_root.h"

namespace runvm::agent {

// The process the rehearsal execs is the agent binary again, with this in its
// environment: agent_main returns at once.
inline constexpr const char* kRehearsalEnv = "RUNVM_AGENT_REHEARSAL";

// Best effort, bounded in time; leaves no process, mount, cgroup or file in
// the share behind. Needs config.premounted_dir (a pool unit's).
// `agent_binary`: the agent's own path (the initramfs /init).
void rehearse_container(const RootConfig& config, const std::string& agent_binary);

}  // namespace runvm::agent
