// The hybrid-vsock handshake a host client speaks on the listening socket
// (Firecracker's): "CONNECT <guest port>\n", answered "OK <host port>\n".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace runvm::vsock {

// Longest line we read before giving up on the client ("CONNECT 4294967295\n" fits).
inline constexpr size_t kMaxConnectLine = 32;

// Parses one complete line, newline included; nullopt unless it is exactly
// "CONNECT " followed by a decimal port (no sign, no leading junk) and "\n".
std::optional<uint32_t> parse_connect_line(std::string_view line);

std::string format_ok_line(uint32_t local_port);

}  // namespace runvm::vsock
