// The RLIMIT_* names config.json may use, with their resource numbers.
// Shared by the host-side check and the guest agent, which applies them.
#pragma once

#include <sys/resource.h>

#include <array>
#include <optional>
#include <string_view>

namespace runvm::oci {

struct RlimitName {
  std::string_view name;
  int resource;
};

inline constexpr std::array<RlimitName, 16> kRlimitNames{{
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
}};

inline std::optional<int> rlimit_from_name(std::string_view name) {
  for (const auto& r : kRlimitNames)
    if (r.name == name) return r.resource;
  return std::nullopt;
}

}  // namespace runvm::oci
