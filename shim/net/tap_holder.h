// Whether a tap of ours in a network namespace belongs to a VM that is still
// running. Our taps are not persistent: one exists only while a process
// holds its fd. After a shim was SIGKILLed, its QEMU (dying of
// PR_SET_PDEATHSIG) may hold it for a moment: a leftover, to replace. A
// live runvm-shim in the same namespace holding it means another
// container's VM owns the interface: taking it would cut that VM off.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace runvm::net {

// The pid of a live runvm-shim, other than us, in the network namespace
// `netns_fd` that holds the tap named `tap`; nullopt when there is none.
// Reads /proc (the host's: the shim runs in the host's PID namespace).
std::optional<pid_t> live_shim_holding(int netns_fd, const std::string& tap);

}  // namespace runvm::net
