// Translates a bundle's OCI process into the agent's create request.
#pragma once

#include "guest/protocol/container_messages.h"
#include "spec/config.h"

namespace runvm {

// Host vsock ports on which the shim serves one container's stdio.
struct StdioPortSet {
  uint32_t in = 0, out = 0, err = 0;  // 0: not connected
};

inline constexpr char kRootfsTag[] = "rootfs";

// The agent's view of an OCI process (the main one or an exec'd one).
Result<proto::Process> make_process(const oci::Process& p);

Result<proto::Create> make_create_request(const std::string& container_id,
                                          const oci::Config& config, const StdioPortSet& ports);

}  // namespace runvm
