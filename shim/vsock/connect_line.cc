#include "shim/vsock/connect_line.h"

namespace runvm::vsock {

std::optional<uint32_t> parse_connect_line(std::string_view line) {
  constexpr std::string_view kPrefix = "CONNECT ";
  if (line.size() > kMaxConnectLine || !line.starts_with(kPrefix) || !line.ends_with('\n'))
    return std::nullopt;
  std::string_view digits = line.substr(kPrefix.size(), line.size() - kPrefix.size() - 1);
  if (digits.empty() || digits.size() > 10) return std::nullopt;
  uint64_t port = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint64_t>(c - '0');
  }
  if (port > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(port);
}

std::string format_ok_line(uint32_t local_port) {
  return "OK " + std::to_string(local_port) + "\n";
}

}  // namespace runvm::vsock
