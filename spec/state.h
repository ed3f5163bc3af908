// Container state: the JSON `runvm state` prints (runc's format), the OCI
// state hooks read on stdin, and the state file runvm keeps in
// <root>/<id>/state.json (the same fields plus runvm's private ones).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "spec/base/json.h"
#include "spec/base/result.h"

namespace runvm::oci {

enum class Status { kCreating, kCreated, kRunning, kPaused, kStopped };
std::string_view to_string(Status s);
std::optional<Status> parse_status(std::string_view s);

// What runvm keeps about the shim that owns the container's VM.
struct ShimInfo {
  int64_t pid = 0;
  uint64_t start_time = 0;  // from process_start_time(pid): detects pid reuse
  std::string socket;       // the shim's control socket
  // Further private values (socket and log paths) without a format change.
  std::map<std::string, std::string> extra;
  bool operator==(const ShimInfo&) const = default;
};

struct ContainerState {
  std::string oci_version;  // the config's ociVersion
  std::string id;
  int64_t pid = 0;  // host pid standing for the container; 0 once stopped
  Status status = Status::kCreating;
  std::string bundle;
  std::string rootfs;
  int64_t created_ns = 0;  // Unix time, nanoseconds
  std::string owner;       // runc fills this only in `list`
  std::map<std::string, std::string> annotations;
  ShimInfo shim;  // persisted only, never printed
  bool operator==(const ContainerState&) const = default;
};

// runc's `state` output: two-space indented, no trailing newline.
std::string state_json(const ContainerState& s);
// One runc state object into `w` (`list --format json` writes an array).
void write_state(json::Writer& w, const ContainerState& s);
// The OCI state (runtime.md) hooks get on stdin, compact, as runc writes it.
std::string hook_state_json(const ContainerState& s);

// <root>/<id>/state.json and back.
std::string persisted_state_json(const ContainerState& s);
Result<ContainerState> parse_persisted_state(std::string_view json);

}  // namespace runvm::oci
