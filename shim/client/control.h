// The shim's control socket (<state dir>/shim.sock): how `runvm start`,
// `kill`, `pause`, `exec`... reach the running shim. Typed like the agent
// protocol (guest/protocol/messages.h), documented in CONTROL.md: each
// message is a struct with a kType tag (its "op"), write() for its fields and
// parse() for hostile input; requests are one variant, dispatched
// exhaustively with std::visit. Frames are the agent protocol's
// (guest/protocol/frame.h), bodies JSON objects.
//
// Every request names the container it is for (`container_id`: a shim may
// hold several; it refuses an id it does not hold). One request per
// connection, answered by a Reply; except Exec, whose
// connection lives as long as the exec'd process: ExecReply, then any number
// of ExecFollowUp requests from the client (no reply), then one ExecExit.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "guest/protocol/container_messages.h"
#include "guest/protocol/stats_messages.h"
#include "spec/base/json.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::control {

// --- client -> shim --------------------------------------------------------

// Runs the container's process (created, waiting at its exec).
struct Start {
  static constexpr std::string_view kType = "start";
  void write(json::Writer&) const {}
  static Result<Start> parse(const json::Value&) { return Start{}; }
  bool operator==(const Start&) const = default;
};

// Sends `signal` to the container's process (`all`: every process in it).
// On an exec's connection: to the exec'd process (`all` is ignored).
struct Kill {
  static constexpr std::string_view kType = "kill";
  int signal = 0;  // 1..64
  bool all = false;
  void write(json::Writer& w) const;
  static Result<Kill> parse(const json::Value& v);
  bool operator==(const Kill&) const = default;
};

struct Pause {
  static constexpr std::string_view kType = "pause";
  void write(json::Writer&) const {}
  static Result<Pause> parse(const json::Value&) { return Pause{}; }
  bool operator==(const Pause&) const = default;
};

struct Resume {
  static constexpr std::string_view kType = "resume";
  void write(json::Writer&) const {}
  static Result<Resume> parse(const json::Value&) { return Resume{}; }
  bool operator==(const Resume&) const = default;
};

// The terminal's size (the container's, or on an exec's connection the
// exec'd process's).
struct Resize {
  static constexpr std::string_view kType = "resize";
  uint16_t rows = 0, cols = 0;
  void write(json::Writer& w) const;
  static Result<Resize> parse(const json::Value& v);
  bool operator==(const Resize&) const = default;
};

// runvm update --memory: the container's new memory limit in bytes. The
// shim shrinks (or grows back) the guest's RAM with the balloon, at most to
// the size the VM booted with, and the agent sets the container cgroup's
// memory.max (guest/protocol UpdateMemory).
struct UpdateMemory {
  static constexpr std::string_view kType = "update_memory";
  uint64_t limit = 0;  // bytes, 1 .. 2^50
  void write(json::Writer& w) const;
  static Result<UpdateMemory> parse(const json::Value& v);
  bool operator==(const UpdateMemory&) const = default;
};

// runvm update of the limits that change live besides memory: the host
// cgroup is the CLI's; the shim re-pins QEMU's vCPU threads to `cpus` (the
// VM's, so refused for a pod member) and has the agent write the container
// cgroup's cpu.max, cpu.weight (from shares, as at create) and pids.max
// (guest/protocol UpdateResources). Absent members stay; at least one is
// present. cpu_quota <= 0 and pids_limit <= 0: no limit.
struct UpdateResources {
  static constexpr std::string_view kType = "update_resources";
  std::optional<int64_t> cpu_quota;    // us; else 1000 .. 2^40
  std::optional<uint64_t> cpu_period;  // us, 1000 .. 1000000
  std::optional<uint64_t> cpu_shares;  // 2 .. 262144
  std::optional<int64_t> pids_limit;   // at most 2^22
  std::string cpus;                    // cpuset list ("0-1"); "": unchanged
  void write(json::Writer& w) const;
  static Result<UpdateResources> parse(const json::Value& v);
  bool operator==(const UpdateResources&) const = default;
};

// runvm events: the numbers of the container's cgroup in the guest (the
// agent's `stats`), answered by a StatsReply instead of a Reply.
struct Stats {
  static constexpr std::string_view kType = "stats";
  void write(json::Writer&) const {}
  static Result<Stats> parse(const json::Value&) { return Stats{}; }
  bool operator==(const Stats&) const = default;
};

// Runs a further process in the container. `process` and `stdio` are the
// agent protocol's (container_messages.h): the client listens on the
// hybrid-vsock ports itself, so the stdio bytes never pass through the
// shim, which names the exec (its agent exec_id) itself.
struct Exec {
  static constexpr std::string_view kType = "exec";
  proto::Process process;  // checked like the agent checks it
  proto::StdioPorts stdio;
  void write(json::Writer& w) const;
  static Result<Exec> parse(const json::Value& v);
  bool operator==(const Exec&) const = default;
};

// Adds a pod member (issue 12) to the sandbox's VM: the member's bundle
// (the shim loads and checks its config.json, binds its rootfs into the
// pod's share and asks the agent to create its process, stopped before exec
// until a Start for its id), the member's own state dir (its status file)
// and its stdio. Like Exec, the client (the member's relay) listens on the
// hybrid-vsock stdio ports itself and keeps the connection: a Reply, then
// follow-ups (ExecFollowUp: to the member's process), then one ExecExit
// with its wait status. The connection closing kills the member.
struct Create {
  static constexpr std::string_view kType = "create";
  std::string bundle;     // absolute
  std::string state_dir;  // absolute
  proto::StdioPorts stdio;
  // Started at once (a claiming `runvm run`, as a cold shim's --start): the
  // shim pipelines the agent's start behind its create and replies only
  // once the process execed.
  bool start = false;
  void write(json::Writer& w) const;
  static Result<Create> parse(const json::Value& v);
  bool operator==(const Create&) const = default;
};

using Request = std::variant<Start, Kill, Pause, Resume, Resize, Exec, Create, UpdateMemory,
                             UpdateResources, Stats>;
// What the client may send on an exec's connection after its ExecReply
// (no container id: the connection is the exec's).
using ExecFollowUp = std::variant<Kill, Resize>;

// A request as it travels: for the container `container_id`.
struct Addressed {
  std::string container_id;  // runc's id rule (proto::valid_container_id)
  Request request;
  bool operator==(const Addressed&) const = default;
};

// --- shim -> client --------------------------------------------------------

// The answer to every request but Exec: {"ok":true} or
// {"ok":false,"error":"..."}.
struct Reply {
  Status status;
};

// The answer to Exec, once the process execve'd or failed to. A failure may
// carry the shell's exit code for it: 127 (no such executable), 126 (not
// executable).
struct ExecReply {
  Status status;
  std::optional<int> exit_code;  // 0..255, only with a failure
};

// The answer to Stats: a Reply with the agent's numbers when ok
// ({"ok":true,"stats":{...}}, the members of the agent's `stats` reply).
struct StatsReply {
  Status status;
  proto::ContainerStats stats;  // id 0
};

// The exec'd process was reaped (or the container ended, taking it along).
struct ExecExit {
  int wait_status = 0;  // raw, as waitpid(2)'s
  bool operator==(const ExecExit&) const = default;
};

// --- codec -----------------------------------------------------------------

std::string encode(const Addressed& a);
std::string encode(const Request& r);  // without an address: an exec's follow-ups
std::string encode(const Reply& r);
std::string encode(const ExecReply& r);
std::string encode(const ExecExit& e);
std::string encode(const StatsReply& r);
// Parsing is for hostile input: errors name the JSON path, unknown fields
// are ignored, an unknown "op" is an error, numbers are range-checked.
Result<Addressed> parse_request(std::string_view json);
Result<ExecFollowUp> parse_exec_follow_up(std::string_view json);
Result<Reply> parse_reply(std::string_view json);
Result<ExecReply> parse_exec_reply(std::string_view json);
Result<ExecExit> parse_exec_exit(std::string_view json);
Result<StatsReply> parse_stats_reply(std::string_view json);

// --- client ----------------------------------------------------------------

// Sends `c` for member `container_id`; on success the connection stays open
// (follow-ups, then ExecExit).
Result<UniqueFd> open_member(const std::string& socket_path, const std::string& container_id,
                             const Create& c, int timeout_ms);

// The CLI's one way to the shim: connect, send, await the first reply.

// Sends `r` (not an Exec) for `container_id` and returns the shim's verdict.
Status call(const std::string& socket_path, const std::string& container_id, const Request& r,
            int timeout_ms = 30000);

// Asks for the container's guest cgroup numbers (Stats).
Result<proto::ContainerStats> stats(const std::string& socket_path, const std::string& container_id,
                                    int timeout_ms);

// Sends `e`; on a reply the connection stays open for its follow-ups and
// ExecExit. A refused exec is a reply, not an error: its exit code is there.
struct ExecSession {
  UniqueFd conn;
  ExecReply reply;
};
Result<ExecSession> open_exec(const std::string& socket_path, const std::string& container_id,
                              const Exec& e, int timeout_ms);

}  // namespace runvm::control
