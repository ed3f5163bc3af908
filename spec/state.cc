#include "spec/state.h"

#include <array>
#include <utility>

#include "spec/json_fields.h"
#include "spec/json_indent.h"
#include "spec/rfc3339.h"

namespace runvm::oci {

namespace {

constexpr std::array<std::pair<Status, std::string_view>, 5> kStatusNames{{
    {Status::kCreating, "creating"},
    {Status::kCreated, "created"},
    {Status::kRunning, "running"},
    {Status::kPaused, "paused"},
    {Status::kStopped, "stopped"},
}};

void write_map(json::Writer& w, const std::map<std::string, std::string>& m) {
  w.begin_object();
  for (const auto& [k, v] : m) w.key(k).string(v);  // sorted, as Go writes maps
  w.end_object();
}

}  // namespace

std::string_view to_string(Status s) {
  for (const auto& [status, name] : kStatusNames)
    if (status == s) return name;
  return "unknown";
}

std::optional<Status> parse_status(std::string_view s) {
  for (const auto& [status, name] : kStatusNames)
    if (name == s) return status;
  return std::nullopt;
}

void write_state(json::Writer& w, const ContainerState& s) {
  // runc's containerState field order.
  w.begin_object();
  w.key("ociVersion").string(s.oci_version);
  w.key("id").string(s.id);
  w.key("pid").integer(s.pid);
  w.key("status").string(to_string(s.status));
  w.key("bundle").string(s.bundle);
  w.key("rootfs").string(s.rootfs);
  w.key("created").string(format_rfc3339_nano(s.created_ns));
  if (!s.annotations.empty()) write_map(w.key("annotations"), s.annotations);
  w.key("owner").string(s.owner);
  w.end_object();
}

std::string state_json(const ContainerState& s) {
  json::Writer w;
  write_state(w, s);
  return indent_json(w.str(), "  ");
}

std::string hook_state_json(const ContainerState& s) {
  // runtime-spec's specs.State: pid and annotations are omitempty.
  json::Writer w;
  w.begin_object();
  w.key("ociVersion").string(s.oci_version);
  w.key("id").string(s.id);
  w.key("status").string(to_string(s.status));
  if (s.pid != 0) w.key("pid").integer(s.pid);
  w.key("bundle").string(s.bundle);
  if (!s.annotations.empty()) write_map(w.key("annotations"), s.annotations);
  w.end_object();
  return w.str();
}

std::string persisted_state_json(const ContainerState& s) {
  json::Writer w;
  w.begin_object();
  w.key("ociVersion").string(s.oci_version);
  w.key("id").string(s.id);
  w.key("pid").integer(s.pid);
  w.key("status").string(to_string(s.status));
  w.key("bundle").string(s.bundle);
  w.key("rootfs").string(s.rootfs);
  w.key("created").string(format_rfc3339_nano(s.created_ns));
  w.key("owner").string(s.owner);
  write_map(w.key("annotations"), s.annotations);
  w.key("runvm").begin_object();
  w.key("shimPid").integer(s.shim.pid);
  w.key("shimStartTime").uinteger(s.shim.start_time);
  w.key("shimSocket").string(s.shim.socket);
  write_map(w.key("extra"), s.shim.extra);
  w.end_object();
  w.end_object();
  return w.str();
}

Result<ContainerState> parse_persisted_state(std::string_view text) {
  json::Document doc = RUNVM_TRY(json::Document::parse(text));
  json::Value top = doc.root();
  if (!top.is_object()) return make_error("must be a JSON object");
  ContainerState s;
  s.oci_version = RUNVM_TRY(fields::string_or_empty(top, "ociVersion"));
  json::Value id = RUNVM_TRY(fields::require(top, "id"));
  s.id = RUNVM_TRY(id.as_string());
  if (s.id.empty()) return id.error("must not be empty");
  if (auto pid = RUNVM_TRY(fields::get(top, "pid")))
    s.pid = RUNVM_TRY(fields::as_int(*pid, 0, INT32_MAX));
  json::Value status = RUNVM_TRY(fields::require(top, "status"));
  std::string name = RUNVM_TRY(status.as_string());
  auto st = parse_status(name);
  if (!st) return status.error("unknown status " + fields::quote(name));
  s.status = *st;
  s.bundle = RUNVM_TRY(fields::string_or_empty(top, "bundle"));
  s.rootfs = RUNVM_TRY(fields::string_or_empty(top, "rootfs"));
  json::Value created = RUNVM_TRY(fields::require(top, "created"));
  s.created_ns =
      RUNVM_TRY(parse_rfc3339_nano(RUNVM_TRY(created.as_string())).context(created.path()));
  s.owner = RUNVM_TRY(fields::string_or_empty(top, "owner"));
  s.annotations = RUNVM_TRY(fields::string_map(top, "annotations"));
  if (auto r = RUNVM_TRY(fields::get(top, "runvm"))) {
    if (auto pid = RUNVM_TRY(fields::get(*r, "shimPid")))
      s.shim.pid = RUNVM_TRY(fields::as_int(*pid, 0, INT32_MAX));
    if (auto t = RUNVM_TRY(fields::get(*r, "shimStartTime")))
      s.shim.start_time = RUNVM_TRY(fields::as_uint(*t));
    s.shim.socket = RUNVM_TRY(fields::string_or_empty(*r, "shimSocket"));
    s.shim.extra = RUNVM_TRY(fields::string_map(*r, "extra"));
  }
  return s;
}

}  // namespace runvm::oci
