// runvm's configuration file, /etc/runvm/runvm.toml (runvm.toml(5)): the
// defaults every container's microVM starts from. Shared by the CLI (which
// reads it) and the shim (which gets its values as flags), so it lives in
// spec/ and links nothing of shim/.
//
// Precedence, lowest first: the built-in defaults below < runvm.toml <
// a container's runvm.io/* annotations (within their bounds) < explicit
// command-line flags (`runvm check --memory`, RUNVM_KERNEL and friends).
//
// Every error is one line naming the file, the line and the key:
//   /etc/runvm/runvm.toml:7: vm.memory_mib: must be an integer
// Unknown tables and keys are errors too, so a typo is never ignored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "spec/base/result.h"

namespace runvm::config {

inline constexpr const char* kDefaultPath = "/etc/runvm/runvm.toml";
// Environment variable naming the file when --config is not given.
inline constexpr const char* kPathEnv = "RUNVM_CONFIG";

// Bounds, shared with the runvm.io/* annotations' (spec/vm_annotations.cc).
inline constexpr uint64_t kMinMemoryMib = 64;          // the agent needs room
inline constexpr uint64_t kMaxMemoryMib = 1ull << 20;  // 1 TiB
inline constexpr unsigned kMaxVcpus = 64;              // the guest kernel's NR_CPUS
inline constexpr uint64_t kMaxOverheadMib = 1ull << 16;
// QEMU's largest TCG translation cache on x86-64 hosts (its generated code
// jumps within ±2 GiB).
inline constexpr uint64_t kMaxTcgTbSizeMib = 2048;

// [vm]: what a microVM gets when its container asks for nothing else.
struct VmDefaults {
  // Room for real workloads (npm ci, compilers), as Kata's 2 GiB: RAM the
  // guest never touches costs the host nothing and what it frees goes back
  // (free page reporting), so the price of a large default is the guest's
  // page structures, ~34 MiB of QEMU RSS over a 256 MiB guest when idle.
  uint64_t memory_mib = 2048;
  unsigned vcpus = 1;
  // Host memory budget for QEMU and the shim themselves, on top of the
  // guest's RAM: what the container's host cgroup limit is raised by, so the
  // guest runs out of memory (and OOM-kills inside) before QEMU could on the
  // host. QEMU's own memory under TCG (bench/density.sh): ~51 MiB PSS per
  // idle container (30 of it translated code), 100-125 MiB (one container,
  // its shared files counted whole) once tcg_tb_size's 64 MiB of code is
  // full; with QEMU's 1 GiB cache it would outgrow this budget (131 MiB of
  // code after a node and python3 run).
  uint64_t overhead_mib = 128;
  std::string accel = "auto";  // auto|kvm|tcg
  // TCG's translation cache in MiB (-accel tcg,tb-size=); 0: QEMU's own
  // default, 1 GiB. QEMU never returns what it fills: booting fills ~30 MiB,
  // a node + python run 131 MiB, and it keeps growing with every new program
  // up to the size. 64 caps that without slowing boot or that run (32: +10%,
  // 16: +45%, 8: 2.7x QEMU CPU time, retranslating after flushes); bench/density.sh.
  uint64_t tcg_tb_size = 64;
  // Empty: found next to runvm (build tree or <prefix>/lib/runvm), as
  // without a configuration file. Absolute paths when set.
  std::string kernel;
  std::string initrd;
  // Empty: qemu-system-x86_64 from PATH. A name is looked up in PATH.
  std::string qemu;
  // The user QEMU runs as: a name, or UID[:GID]. "": root, still without
  // capabilities, in its own mount namespace and under its seccomp filter
  // (docs/security.md).
  std::string qemu_user;

  bool operator==(const VmDefaults&) const = default;
};

// [pool] (issue 14): VMs booted ahead of time, claimed by `runvm create`
// (runvm-pool(8)). Off by default: each idle unit holds a booted VM.
inline constexpr uint64_t kMaxPoolSize = 64;
struct PoolConfig {
  // Idle units `runvm pool fill` keeps per size class; 0: no pool, every
  // create boots its VM.
  uint64_t size = 0;
  // An idle unit older than this is drained instead of claimed (its guest
  // clock and entropy have aged with it); 0: no limit.
  uint64_t max_idle_seconds = 3600;

  bool operator==(const PoolConfig&) const = default;
};

struct RunvmConfig {
  VmDefaults vm;
  PoolConfig pool;
  // The file these values came from; empty for the built-in defaults.
  std::string path;

  bool operator==(const RunvmConfig&) const = default;
};

// Parses the text of a runvm.toml; `path` prefixes every error
// ("PATH:LINE: KEY: ..."). Keys not in the file keep their built-in value.
Result<RunvmConfig> parse_runvm_config(std::string_view text, const std::string& path);

// The configuration runvm runs with: the file `flag_path` (--config) names,
// else $RUNVM_CONFIG's, else /etc/runvm/runvm.toml. Only the default file
// may be missing (built-in defaults then); a file the user named must exist.
Result<RunvmConfig> load_runvm_config(const std::string& flag_path);

// The file load_runvm_config would read, and whether the user named it.
struct ConfigPath {
  std::string path;
  bool named = false;
};
ConfigPath config_path(const std::string& flag_path);

}  // namespace runvm::config
