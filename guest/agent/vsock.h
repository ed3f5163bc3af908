// AF_VSOCK stream connections from the guest to the host.
#pragma once

#include <chrono>
#include <cstdint>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::agent {

Result<UniqueFd> vsock_connect(uint32_t cid, uint32_t port);

// Starts connecting and returns without waiting for the host's answer: a
// non-blocking socket whose connect is in progress (or done), for
// await_connected (process_io.h). Several dialed this way travel to the host
// together: one round trip's wait instead of one each.
Result<UniqueFd> vsock_connect_start(uint32_t cid, uint32_t port);

// Retries vsock_connect every `interval` until `timeout`: at boot the
// virtio-vsock device (or the host listener) may appear after init starts.
Result<UniqueFd> vsock_connect_retry(uint32_t cid, uint32_t port, std::chrono::milliseconds timeout,
                                     std::chrono::milliseconds interval);

}  // namespace runvm::agent
