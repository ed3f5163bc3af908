// The OCI runtime-spec config.json (v1.0.2 / v1.1) as a typed model, and its
// parser. Like runc, unknown fields are ignored and JSON null means "absent";
// wrong types and invalid values are errors naming the JSON path
// ("mounts[2].destination: must be an absolute path").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec/base/result.h"

namespace runvm::oci {

struct Root {
  std::string path;  // as written: relative paths are relative to the bundle
  bool readonly = false;
};

struct Mount {
  std::string destination;  // absolute, in the container
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct ConsoleSize {
  uint32_t height = 0;
  uint32_t width = 0;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
};

// Capability names exactly as given ("CAP_KILL"); checked against libcap later.
struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"; checked later
  uint64_t hard = 0;
  uint64_t soft = 0;
};

struct IoPriority {
  std::string io_class;  // IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE
  int32_t priority = 0;  // 0..7
};

struct Scheduler {
  std::string policy;  // SCHED_OTHER, SCHED_FIFO, ...
  int32_t nice = 0;
  int32_t priority = 0;
  std::vector<std::string> flags;
  uint64_t runtime = 0;
  uint64_t deadline = 0;
  uint64_t period = 0;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;  // non-empty
  std::vector<std::string> env;   // each "KEY=VALUE"; see effective_env()
  std::string cwd;                // absolute
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::string selinux_label;
  std::optional<int32_t> oom_score_adj;  // -1000..1000
  std::optional<Scheduler> scheduler;
  std::optional<IoPriority> io_priority;
};

struct Hook {
  std::string path;  // absolute, on the host
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int64_t> timeout;  // seconds, > 0
};

struct Hooks {
  std::vector<Hook> prestart;  // deprecated by the spec, still run by runc
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;
};

enum class NamespaceType { kPid, kNetwork, kMount, kIpc, kUts, kUser, kCgroup, kTime };
std::string_view to_string(NamespaceType t);
std::optional<NamespaceType> parse_namespace_type(std::string_view s);

struct Namespace {
  NamespaceType type = NamespaceType::kPid;
  std::string path;  // empty: create a new one; else absolute, join it
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Device {
  std::string type;  // "c", "b", "u" or "p"
  std::string path;  // absolute, in the container
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

// A device cgroup rule.
struct DeviceRule {
  bool allow = false;
  std::string type;  // "a", "c", "b", or empty (= all)
  std::optional<int64_t> major;
  std::optional<int64_t> minor;
  std::string access;  // subset of "rwm"
};

struct MemoryResources {
  std::optional<int64_t> limit;
  std::optional<int64_t> reservation;
  std::optional<int64_t> swap;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> period;
  std::string cpus;
  std::string mems;
};

struct PidsResources {
  int64_t limit = 0;
};

struct HugepageLimit {
  std::string page_size;  // "2MB"
  uint64_t limit = 0;
};

// The subset of linux.resources runvm uses; the rest is ignored.
struct Resources {
  std::vector<DeviceRule> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<PidsResources> pids;
  std::vector<HugepageLimit> hugepage_limits;
  std::map<std::string, std::string> unified;  // cgroup v2 files
};

struct SeccompArg {
  uint32_t index = 0;  // 0..5
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_*
};

struct SeccompSyscall {
  std::vector<std::string> names;  // non-empty
  std::string action;              // SCMP_ACT_*
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string default_action;  // SCMP_ACT_*
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_*
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_*
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompSyscall> syscalls;
};

struct Linux {
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::map<std::string, std::string> sysctl;
  std::optional<Resources> resources;
  std::string cgroups_path;
  std::vector<Namespace> namespaces;  // no type twice
  std::vector<Device> devices;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;  // empty or one of runc's propagation names
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string mount_label;
};

struct Config {
  std::string oci_version;
  Root root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  std::optional<Process> process;  // optional in the spec; `create` requires it
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  // Not `linux`: that is a predefined macro under GNU extensions.
  std::optional<Linux> linux_;
};

// Parses and validates config.json text.
Result<Config> parse_config(std::string_view json);
// Parses a process.json (`runc exec --process`): a config's process alone.
Result<Process> parse_process_json(std::string_view json);

// The PATH runc's `spec` writes, used when the config sets none.
inline constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// process.env as the container gets it: later duplicates of a key replace
// earlier ones (keeping the first one's position), and PATH=kDefaultPath is
// appended when no PATH is set.
std::vector<std::string> effective_env(const std::vector<std::string>& env);

// A bundle on disk: its directory and config, with the rootfs resolved.
struct Bundle {
  std::string dir;     // absolute
  std::string rootfs;  // absolute, lexically clean, an existing directory
  // rootfs with every symlink resolved when it was checked: what is shared,
  // opened with no symlink followed (oci::open_no_symlinks).
  std::string rootfs_real;
  Config config;
};

// Far above any real config (Kubernetes' are tens of KiB); a bigger one is
// refused before it is parsed.
inline constexpr size_t kMaxConfigSize = 10 << 20;

// Reads <bundle_dir>/config.json (at most kMaxConfigSize bytes), parses it
// and resolves root.path against the bundle. A relative root.path or bind
// source must resolve inside the bundle. Bind sources come back with every
// symlink resolved (those that exist). Errors start "config.json: ".
Result<Bundle> load_bundle(const std::string& bundle_dir);

}  // namespace runvm::oci
