// Container messages of the control protocol (PROTOCOL.md, "Containers"):
// create/start/signal/resize requests and the unsolicited exit event. Same
// conventions as messages.h: kType, write(), parse() for hostile input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guest/protocol/fields.h"
#include "guest/protocol/linux_spec.h"
#include "spec/base/json.h"
#include "spec/base/result.h"

namespace runvm::proto {

// Limits on what a create may carry (the 1 MiB frame bounds the rest).
inline constexpr size_t kMaxContainerIdLength = 256;
inline constexpr size_t kMaxHostnameLength = 64;  // HOST_NAME_MAX
inline constexpr size_t kMaxArgs = 65536;
inline constexpr size_t kMaxGroups = 65536;  // NGROUPS_MAX
inline constexpr uint32_t kMaxSignal = 64;   // SIGRTMAX on Linux

// runc's rule for ids: [A-Za-z0-9_+.-]+, and not "." or "..".
bool valid_container_id(std::string_view id);

// The container's root filesystem: the virtio-fs share `tag`, or with
// `path` the directory of that name at the share's top (a pod member's root
// in its sandbox's pod share: one path element, the container id rule).
struct Rootfs {
  std::string tag;
  bool readonly = false;
  std::string path;
  bool operator==(const Rootfs&) const = default;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t umask = 0022;
  std::vector<uint32_t> additional_gids;
  bool operator==(const User&) const = default;
};

// `type` is an OCI name ("RLIMIT_NOFILE"); the agent rejects unknown ones.
struct Rlimit {
  std::string type;
  uint64_t soft = 0;
  uint64_t hard = 0;
  bool operator==(const Rlimit&) const = default;
};

struct ConsoleSize {
  uint16_t rows = 0;
  uint16_t cols = 0;
  bool operator==(const ConsoleSize&) const = default;
};

struct Process {
  bool terminal = false;
  std::vector<std::string> args;  // at least one
  std::vector<std::string> env;   // "KEY=value"
  std::string cwd = "/";          // absolute
  User user;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<ConsoleSize> console_size;   // its pty's (without a terminal: tty streams')
  std::optional<Capabilities> capabilities;  // absent: left as they are
  std::optional<int32_t> oom_score_adj;      // -1000..1000
  std::optional<IoPriority> io_priority;     // absent: inherited
  std::optional<Scheduler> scheduler;        // absent: inherited
  bool operator==(const Process&) const = default;
};

// What a stdio stream is to the process in the guest: the kind of the host
// fd it stands for (stdio_kind.h), so that programs which branch on
// fstat/isatty behave as under runc. The agent relays between a guest
// object of this kind and the stream.
enum class StdioKind {
  kPipe,    // a pipe
  kSocket,  // a unix socketpair (SOCK_STREAM)
  kTty,     // a pty in raw mode (a host terminal without process.terminal)
  // A regular file: the host's own, served on the kStdioShareTag share (no
  // port, no stream), opened write-only with or without O_APPEND (stdin:
  // read-only) as the host's is.
  kFile,
  kAppendFile,
};
std::string_view stdio_kind_name(StdioKind k);

// Host vsock ports the agent dials for each stdio stream (0: no stream, the
// process gets /dev/null unless it is a file) and what the process gets for
// each. With a
// terminal, stdout carries the pty output, stderr is unused and the kinds
// do not apply.
struct StdioPorts {
  uint32_t stdin_port = 0;
  uint32_t stdout_port = 0;
  uint32_t stderr_port = 0;
  StdioKind stdin_kind = StdioKind::kPipe;
  StdioKind stdout_kind = StdioKind::kPipe;
  StdioKind stderr_kind = StdioKind::kPipe;
  bool operator==(const StdioPorts&) const = default;
};

// Shared by the messages that carry these members (exec_messages.h too).
// An id member ("container_id", "exec_id"): a string valid_container_id
// accepts.
Result<std::string> parse_id(const json::Value& v, std::string_view key);
inline Result<std::string> parse_container_id(const json::Value& v) {
  return parse_id(v, "container_id");
}
// The "status" member of the exit events: a raw wait status, at most 0xffff.
Result<uint32_t> parse_wait_status(const json::Value& v);
Result<Process> parse_process(const json::Value& v);
Result<StdioPorts> parse_stdio(const json::Value& v);
void write_process(json::Writer& w, const Process& p);  // as one object
void write_stdio(json::Writer& w, const StdioPorts& s);
// The "process" (required) and "stdio" (optional) members of create and exec.
Status parse_process_stdio(const json::Value& v, Process& process, StdioPorts& stdio);
void write_process_stdio(json::Writer& w, const Process& process, const StdioPorts& stdio);

// Creates the container's main process, blocked just before execve. Replied
// with Ok, or ErrorReply carrying runc's wording (and exit_code 127/126 when
// the executable is missing / not executable).
struct Create {
  static constexpr std::string_view kType = "create";
  uint64_t id = 0;
  std::string container_id;
  Rootfs rootfs;
  std::string hostname;  // empty: unchanged
  Process process;
  StdioPorts stdio;
  LinuxSpec linux_spec;  // wire member "linux"; absent: all defaults
  // The VM ends with this container (the host's first, `runvm run`): when
  // its main process is reaped the agent kills the container's other
  // processes itself and leaves its root mounted (PROTOCOL.md, exit).
  bool ends_vm = false;
  void write(json::Writer& w) const;
  static Result<Create> parse(const json::Value& v);
  bool operator==(const Create&) const = default;
};

// Lets the created process execve; Ok once it did.
// A request that names only its container (`start`, `freeze`, `thaw`,
// `stats`): `Kind` gives its "type", and makes each a type of its own.
template <class Kind>
struct ContainerRequest {
  static constexpr std::string_view kType = Kind::kType;
  uint64_t id = 0;
  std::string container_id;
  void write(json::Writer& w) const {
    w.key("id").uinteger(id);
    w.key("container_id").string(container_id);
  }
  static Result<ContainerRequest> parse(const json::Value& v) {
    ContainerRequest m;
    m.id = RUNVM_TRY(fields::u64(v, "id"));
    m.container_id = RUNVM_TRY(parse_container_id(v));
    return m;
  }
  bool operator==(const ContainerRequest&) const = default;
};

struct StartKind {
  static constexpr std::string_view kType = "start";
};
using Start = ContainerRequest<StartKind>;

// Sends `signal` to the container's main process, or with `all` to every
// process of that container, none of another (PROTOCOL.md).
struct Signal {
  static constexpr std::string_view kType = "signal";
  uint64_t id = 0;
  std::string container_id;
  uint32_t signal = 0;  // 1..kMaxSignal
  bool all = false;
  std::string exec_id;  // non-empty: that exec'd process instead (exec_messages.h)
  void write(json::Writer& w) const;
  static Result<Signal> parse(const json::Value& v);
  bool operator==(const Signal&) const = default;
};

// New window size of the container's terminal.
struct Resize {
  static constexpr std::string_view kType = "resize";
  uint64_t id = 0;
  std::string container_id;
  uint16_t rows = 0;
  uint16_t cols = 0;
  std::string exec_id;  // non-empty: that exec'd process's terminal instead
  void write(json::Writer& w) const;
  static Result<Resize> parse(const json::Value& v);
  bool operator==(const Resize&) const = default;
};

// Changes the container's memory limit live (runvm update --memory): the
// host has resized the guest's balloon to `guest_ram` bytes; the agent sets
// the container cgroup's memory.max from `limit` (0: none) capped under that
// RAM, as at create (guest/agent/container_cgroup.h).
struct UpdateMemory {
  static constexpr std::string_view kType = "update_memory";
  uint64_t id = 0;
  std::string container_id;
  uint64_t limit = 0;      // bytes; 0: no limit
  uint64_t guest_ram = 0;  // bytes, 1 MiB .. 2^50
  void write(json::Writer& w) const;
  static Result<UpdateMemory> parse(const json::Value& v);
  bool operator==(const UpdateMemory&) const = default;
};

// Changes the container cgroup's CPU and pids limits live (runvm update
// --cpu-quota/--cpu-period/--cpu-share/--pids-limit). Absent members stay as
// they are; at least one is present. cpu.max is written whole, so the host
// sends the quota and the period together (the container's merged values).
struct UpdateResources {
  static constexpr std::string_view kType = "update_resources";
  // cpu.max's quota in us (<= 0: "max"; else 1000 .. 2^40) and period (1000 ..
  // 1000000, the kernel's bounds); cpu.weight 1..10000 (converted from shares
  // on the host, as at create); pids.max (<= 0: "max", else at most 2^22,
  // the kernel's PID_MAX_LIMIT).
  uint64_t id = 0;
  std::string container_id;
  std::optional<int64_t> cpu_quota;
  std::optional<uint64_t> cpu_period;
  std::optional<uint64_t> cpu_weight;
  std::optional<int64_t> pids_limit;
  void write(json::Writer& w) const;
  static Result<UpdateResources> parse(const json::Value& v);
  bool operator==(const UpdateResources&) const = default;
};
// Freezes (`freeze`) or thaws (`thaw`) every process of the container: its
// guest cgroup's cgroup.freeze (runvm pause/resume of a pod member, whose
// VM's vCPUs are the pod's). Ok once cgroup.events says so.
struct FreezeKind {
  static constexpr std::string_view kType = "freeze";
};
struct ThawKind {
  static constexpr std::string_view kType = "thaw";
};
using Freeze = ContainerRequest<FreezeKind>;
using Thaw = ContainerRequest<ThawKind>;

// agent -> host, unsolicited (no id): the container's main process was
// reaped. `status` is the raw wait status (WEXITSTATUS/WTERMSIG apply).
struct Exit {
  static constexpr std::string_view kType = "exit";
  std::string container_id;
  uint32_t status = 0;  // at most 0xffff
  // Processes of the container's cgroup the guest's OOM killer killed
  // (memory.events oom_kill); sent when not 0.
  uint32_t oom_kills = 0;
  void write(json::Writer& w) const;
  static Result<Exit> parse(const json::Value& v);
  bool operator==(const Exit&) const = default;
};

}  // namespace runvm::proto
