// The test agent's protocol extension (PROTOCOL.md, "Test extension"):
// "transfer", which streams seeded bytes over a new vsock stream so tests can
// check bulk guest->host transfer byte-exactly. Only runvm-agent-test knows
// it; the production agent answers it as an unknown type. Same conventions as
// guest/protocol/messages.h.
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>

#include "guest/protocol/messages.h"

namespace runvm::test_agent {

// Largest "bytes" a transfer request may ask for.
inline constexpr uint64_t kMaxTransferBytes = uint64_t{1} << 30;

// Agent dials a new vsock stream to the host on `port`, writes `bytes` bytes
// of TransferStream(seed), closes it, then replies TransferDone.
struct Transfer {
  static constexpr std::string_view kType = "transfer";
  uint64_t id = 0;
  uint32_t port = 0;
  uint64_t bytes = 0;  // at most kMaxTransferBytes
  uint64_t seed = 0;
  void write(json::Writer& w) const;
  static Result<Transfer> parse(const json::Value& v);
  bool operator==(const Transfer&) const = default;
};

struct TransferDone {
  static constexpr std::string_view kType = "transfer_done";
  uint64_t id = 0;
  uint64_t bytes = 0;
  void write(json::Writer& w) const;
  static Result<TransferDone> parse(const json::Value& v);
  bool operator==(const TransferDone&) const = default;
};

using TestHostMessage = std::variant<Transfer>;
using TestAgentMessage = std::variant<TransferDone>;

inline Result<TestHostMessage> parse_test_host_message(std::string_view json) {
  return proto::parse_variant<TestHostMessage>(json);
}
inline Result<TestAgentMessage> parse_test_agent_message(std::string_view json) {
  return proto::parse_variant<TestAgentMessage>(json);
}

}  // namespace runvm::test_agent
