// The parts of a create request that carry the OCI process and Linux spec
// beyond the basics (PROTOCOL.md, "create"): capabilities, seccomp, mounts,
// masked and read-only paths, sysctl, domainname. Names stay OCI names
// ("CAP_KILL", "SCMP_ACT_ERRNO"); the agent resolves them with its own
// libcap and libseccomp. Every member is optional on the wire.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "spec/base/json.h"
#include "spec/base/result.h"

namespace runvm::proto {

inline constexpr size_t kMaxListItems = 65536;

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
  bool operator==(const Capabilities&) const = default;
};

struct SeccompArg {
  uint32_t index = 0;  // 0..5
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_*
  bool operator==(const SeccompArg&) const = default;
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_*
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
  bool operator==(const SeccompSyscall&) const = default;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_*
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_*
  std::vector<SeccompSyscall> syscalls;
  bool operator==(const Seccomp&) const = default;
};

// One OCI mount. A bind mount of a host path arrives as the virtio-fs share
// `share` (which the agent mounts) with `source` relative to it ("" = the
// share itself, else a file or directory inside it).
struct Mount {
  std::string destination;  // absolute, in the container
  std::string type;
  std::string source;
  std::string share;
  std::vector<std::string> options;
  bool operator==(const Mount&) const = default;
};

struct LinuxSpec {
  std::string domainname;
  std::vector<Mount> mounts;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  bool operator==(const LinuxSpec&) const = default;
};

void write_capabilities(json::Writer& w, const Capabilities& c);
Result<Capabilities> parse_capabilities(const json::Value& v);

void write_linux_spec(json::Writer& w, const LinuxSpec& l);
Result<LinuxSpec> parse_linux_spec(const json::Value& v);

}  // namespace runvm::proto
