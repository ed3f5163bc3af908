// The agent side of the test extension: Agent's ExtensionFn in
// runvm-agent-test (and in the agent's unit tests).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "guest/agent/container.h"

namespace runvm::test_agent {

// Bytes per write of a transfer.
inline constexpr size_t kTransferChunk = 256 * 1024;
// A transfer whose reader stops reading for this long fails.
inline constexpr int kTransferStallSeconds = 30;

// The fault-injection trigger (PROTOCOL.md, "Test extension: crash"): an
// `exec` request whose process.args is exactly [kCrashTrigger] makes
// runvm-agent-test abort() before any reply, so tests can crash the agent
// through the ordinary `runvm exec`. The production agent has no such path.
inline constexpr std::string_view kCrashTrigger = "runvm-test-crash-agent";
bool is_crash_trigger(const json::Value& exec_request);

// The reply body to an extension request (a transfer_done, or an error
// carrying its id), or nullopt when `request` is not one of them.
std::optional<std::string> handle_request(std::string_view request, const agent::DialFn& dial);

}  // namespace runvm::test_agent
