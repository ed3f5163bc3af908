// Wire constants shared by the guest agent and the host shim.
#pragma once

#include <cstddef>
#include <cstdint>

namespace runvm::proto {

// Bumped on any incompatible change; sent in the agent's hello.
inline constexpr uint32_t kProtocolVersion = 1;

// The agent dials the host (CID 2) on this vsock port for the control stream.
inline constexpr uint32_t kHostCid = 2;
inline constexpr uint32_t kAgentPort = 1024;

// The container's own stdio streams: the agent dials these host ports for the
// first process's stdin, stdout and stderr.
inline constexpr uint32_t kStdinPort = 1025, kStdoutPort = 1026, kStderrPort = 1027;

// `runvm exec` picks its stdio ports at random in [kExecPortMin, kExecPortMin
// + kExecPortSpan): above every fixed port, the container's own included.
inline constexpr uint32_t kExecPortMin = 1u << 16, kExecPortSpan = 1u << 30;

// Largest JSON body of one frame. Checked before any allocation.
inline constexpr size_t kMaxFrameSize = size_t{1} << 20;

// The virtio-fs share of the host's stdio files (StdioKind::kFile): the
// nodes "0", "1", "2" at its root are the container's stdin, stdout, stderr.
inline constexpr char kStdioShareTag[] = "runvm-stdio";

}  // namespace runvm::proto
