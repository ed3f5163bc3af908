// Typed control-channel messages (see PROTOCOL.md). Each message is a struct
// with a kType tag, write() for its fields and parse() for its fields; the
// "type" member is handled here. To add a message: define its struct in
// this style and list it in HostMessage or AgentMessage.
//
// Parsing is for hostile input: errors name the JSON path, unknown fields are
// ignored, an unknown "type" is an error, numbers are range-checked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "guest/protocol/container_messages.h"
#include "guest/protocol/exec_messages.h"
#include "guest/protocol/network_messages.h"
#include "guest/protocol/stats_messages.h"
#include "spec/base/json.h"
#include "spec/base/result.h"

namespace runvm::proto {

// --- agent -> host ---------------------------------------------------------

// First message on the control stream.
struct Hello {
  static constexpr std::string_view kType = "hello";
  uint32_t version = 0;  // kProtocolVersion of the agent
  std::string agent;     // agent build version
  uint64_t boot_ns = 0;  // CLOCK_BOOTTIME when the agent started
  std::string kernel;    // uname -r
  void write(json::Writer& w) const;
  static Result<Hello> parse(const json::Value& v);
  bool operator==(const Hello&) const = default;
};

struct Pong {
  static constexpr std::string_view kType = "pong";
  uint64_t id = 0;
  void write(json::Writer& w) const;
  static Result<Pong> parse(const json::Value& v);
  bool operator==(const Pong&) const = default;
};

struct Ok {
  static constexpr std::string_view kType = "ok";
  uint64_t id = 0;
  void write(json::Writer& w) const;
  static Result<Ok> parse(const json::Value& v);
  bool operator==(const Ok&) const = default;
};

// Failure of request `id` (0 when the request was too broken to carry one).
// exit_code: set when a create failed to find (127) or to execute (126) the
// executable, the codes a shell would exit with.
struct ErrorReply {
  static constexpr std::string_view kType = "error";
  uint64_t id = 0;
  std::string message;
  std::optional<uint32_t> exit_code;
  void write(json::Writer& w) const;
  static Result<ErrorReply> parse(const json::Value& v);
  bool operator==(const ErrorReply&) const = default;
};

// --- host -> agent ---------------------------------------------------------

struct Ping {
  static constexpr std::string_view kType = "ping";
  uint64_t id = 0;
  void write(json::Writer& w) const;
  static Result<Ping> parse(const json::Value& v);
  bool operator==(const Ping&) const = default;
};

// Agent replies Ok, then syncs and powers the VM off.
struct Shutdown {
  static constexpr std::string_view kType = "shutdown";
  uint64_t id = 0;
  void write(json::Writer& w) const;
  static Result<Shutdown> parse(const json::Value& v);
  bool operator==(const Shutdown&) const = default;
};

using HostMessage =
    std::variant<Ping, Shutdown, Create, Start, Signal, Resize, Exec, ConfigureNetwork,
                 UpdateMemory, UpdateResources, StatsRequest, Freeze, Thaw>;
using AgentMessage = std::variant<Hello, Pong, Ok, ErrorReply, Exit, ExecExit, ContainerStats, Oom>;

// Serialises one message as a JSON object with "type" first.
template <class M>
std::string to_json(const M& m) {
  json::Writer w;
  w.begin_object().key("type").string(M::kType);
  m.write(w);
  w.end_object();
  return w.str();
}
std::string to_json(const HostMessage& m);
std::string to_json(const AgentMessage& m);

// Parse one frame body. A message of the other direction is an unknown type.
Result<HostMessage> parse_host_message(std::string_view json);
Result<AgentMessage> parse_agent_message(std::string_view json);

// One frame body as the alternative of Variant (messages in this style)
// whose kType is its "type"; any other type is an error. The parsers above
// are this; protocol extensions of test builds use it for their own
// messages (guest/test_agent).
template <class Variant>
Result<Variant> parse_variant(std::string_view json);

// The "id" of a request that failed to parse, for the error reply; 0 when
// there is none usable.
uint64_t salvage_id(std::string_view json);

// Untrusted text made safe to log or echo: printable ASCII only (others
// become '?'), at most max bytes.
std::string printable(std::string_view text, size_t max = 512);

namespace detail {
// Tries each alternative of Variant whose kType equals `type`.
template <class Variant, size_t I = 0>
Result<Variant> parse_as(std::string_view type, const json::Value& root) {
  if constexpr (I == std::variant_size_v<Variant>) {
    return make_error("type: unknown message type \"" + printable(type, 64) + "\"");
  } else {
    using M = std::variant_alternative_t<I, Variant>;
    if (type == M::kType) {
      M m = RUNVM_TRY(M::parse(root));
      return Variant(std::move(m));
    }
    return parse_as<Variant, I + 1>(type, root);
  }
}
}  // namespace detail

template <class Variant>
Result<Variant> parse_variant(std::string_view json) {
  json::Document doc = RUNVM_TRY(json::Document::parse(json));
  json::Value root = doc.root();
  if (!root.is_object()) return make_error("message must be a JSON object");
  std::string type = RUNVM_TRY(RUNVM_TRY(root.at("type")).as_string());
  return detail::parse_as<Variant>(type, root);
}

}  // namespace runvm::proto
