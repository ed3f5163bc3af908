// The parts of a create request that carry the OCI process and Linux spec
// beyond the basics (PROTOCOL.md, "create"): capabilities, I/O priority,
// scheduler, seccomp, mounts, devices, masked and read-only paths, sysctl,
// domainname, root propagation and the in-guest resource limits. Names stay OCI names
// ("CAP_KILL", "SCMP_ACT_ERRNO"); the agent resolves them with its own
// libcap and libseccomp. Every member is optional on the wire.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec/base/json.h"
#include "spec/base/result.h"

namespace runvm::proto {

inline constexpr size_t kMaxListItems = 65536;

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
  bool operator==(const Capabilities&) const = default;
};

// process.ioPriority: class IOPRIO_CLASS_RT, _BE or _IDLE, level 0..7.
struct IoPriority {
  std::string io_class;
  uint32_t priority = 0;
  bool operator==(const IoPriority&) const = default;
};

// process.scheduler, for sched_setattr(2). Names stay OCI names.
struct Scheduler {
  std::string policy;  // SCHED_*
  int32_t nice = 0;    // -20..19
  int32_t priority = 0;
  std::vector<std::string> flags;  // SCHED_FLAG_*
  uint64_t runtime = 0, deadline = 0, period = 0;
  bool operator==(const Scheduler&) const = default;
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

// Largest device numbers the kernel's dev_t encoding carries.
inline constexpr uint32_t kMaxDeviceMajor = 0xfff;
inline constexpr uint32_t kMaxDeviceMinor = 0xfffff;

// linux.devices: a node the container process creates (mknod) in its root.
struct Device {
  std::string type;  // "c", "b", "u" (unbuffered, i.e. "c") or "p"
  std::string path;  // absolute, in the container
  uint32_t major = 0, minor = 0;
  uint32_t file_mode = 0666;  // permission bits only
  uint32_t uid = 0, gid = 0;
  bool operator==(const Device&) const = default;
};

// linux.resources.hugepageLimits[]: `page_size` like "2MB" (digits, then
// KB, MB or GB), so it can only name a hugetlb.<size>.max file.
struct HugepageLimit {
  std::string page_size;
  uint64_t limit = 0;
  bool operator==(const HugepageLimit&) const = default;
};
bool valid_hugepage_size(std::string_view size);

struct LinuxSpec {
  std::string domainname;
  std::vector<Mount> mounts;
  std::vector<Device> devices;
  std::string rootfs_propagation;     // "" or shared/slave/private/unbindable, r*
  std::optional<int64_t> pids_limit;  // the container's pids.max; <= 0: "max"
  // linux.resources.memory.limit (> 0): the container's memory.max, capped
  // under the guest's RAM by the agent.
  std::optional<uint64_t> memory_limit;
  // linux.resources.cpu: cpu.max's quota (<= 0: "max") and period, and
  // cpu.weight (1..10000, converted from shares on the host).
  std::optional<int64_t> cpu_quota;
  std::optional<uint64_t> cpu_period;
  std::optional<uint64_t> cpu_weight;
  std::vector<HugepageLimit> hugepage_limits;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  // A PID namespace of its own (a pod member whose spec asks for a new one);
  // otherwise the agent's, which the VM's first container and members that
  // share the sandbox's PID namespace live in. Wire: "new_pid_namespace".
  bool new_pid_ns = false;
  bool operator==(const LinuxSpec&) const = default;
};

void write_capabilities(json::Writer& w, const Capabilities& c);
Result<Capabilities> parse_capabilities(const json::Value& v);

void write_io_priority(json::Writer& w, const IoPriority& p);
Result<IoPriority> parse_io_priority(const json::Value& v);
void write_scheduler(json::Writer& w, const Scheduler& s);
Result<Scheduler> parse_scheduler(const json::Value& v);

void write_linux_spec(json::Writer& w, const LinuxSpec& l);
Result<LinuxSpec> parse_linux_spec(const json::Value& v);

}  // namespace runvm::proto
