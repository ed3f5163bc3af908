// Translates a bundle's OCI process into the agent's create request.
#pragma once

#include "guest/protocol/container_messages.h"
#include "shim/client/process_request.h"
#include "spec/config.h"

namespace runvm {

inline constexpr char kRootfsTag[] = "rootfs";
// A pod sandbox's share of its members' roots (Sandbox, issue 12).
inline constexpr char kPodShareTag[] = "pod";

// `stdio`: the host vsock ports on which the shim serves the container's
// stdio (0: none, /dev/null) and their kinds.
Result<proto::Create> make_create_request(const std::string& container_id,
                                          const oci::Config& config,
                                          const proto::StdioPorts& stdio);

// The request's `linux` part: mounts, devices, the resources the guest's
// cgroup of the container applies, seccomp and paths.
Result<proto::LinuxSpec> make_linux_spec(const oci::Config& config);

// Whether a pod member gets a PID namespace of its own in the guest: its
// linux.namespaces has a "pid" entry without a path (a new one). With a
// path it joins one: Podman's `--share pid` and the CRI's NamespaceMode POD
// name the sandbox's (/proc/<sandbox pid>/ns/pid), so it shares the
// sandbox's, the agent's; with no entry (runc: the host's) it does too.
bool wants_own_pid_namespace(const oci::Config& config);

}  // namespace runvm
