// Exec messages of the control protocol (PROTOCOL.md, "exec"): an additional
// process in a container's VM, created and started in one request, and its
// own exit event. Same conventions as messages.h: kType, write(), parse()
// for hostile input.
#pragma once

#include <cstdint>
#include <string>

#include "guest/protocol/container_messages.h"

namespace runvm::proto {

// exec_id follows the container id rule ([A-Za-z0-9_+.-]+, at most 256).
bool valid_exec_id(std::string_view id);

// Runs `process` in the container `container_id` (created or running): it
// joins the container's root and dials `stdio` like a create. Replied with
// Ok once the process execve'd, or ErrorReply with runc's wording (and
// exit_code 127/126 when the executable is missing / not executable).
struct Exec {
  static constexpr std::string_view kType = "exec";
  uint64_t id = 0;
  std::string container_id;
  std::string exec_id;  // unique among the container's live execs
  Process process;
  StdioPorts stdio;
  void write(json::Writer& w) const;
  static Result<Exec> parse(const json::Value& v);
  bool operator==(const Exec&) const = default;
};

// agent -> host, unsolicited: the exec'd process was reaped; sent once, with
// the same ordering guarantees as Exit. The exec_id is free again after it.
struct ExecExit {
  static constexpr std::string_view kType = "exec_exit";
  std::string container_id;
  std::string exec_id;
  uint32_t status = 0;  // raw wait status, at most 0xffff
  void write(json::Writer& w) const;
  static Result<ExecExit> parse(const json::Value& v);
  bool operator==(const ExecExit&) const = default;
};

// The optional "exec_id" member of signal and resize: empty means the
// container's main process.
Result<std::string> parse_opt_exec_id(const json::Value& v);

}  // namespace runvm::proto
