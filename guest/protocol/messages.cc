#include "guest/protocol/messages.h"

#include "guest/protocol/constants.h"
#include "guest/protocol/fields.h"

namespace runvm::proto {
namespace {

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

template <class Variant>
Result<Variant> parse_message(std::string_view text) {
  json::Document doc = RUNVM_TRY(json::Document::parse(text));
  json::Value root = doc.root();
  if (!root.is_object()) return make_error("message must be a JSON object");
  std::string type = RUNVM_TRY(fields::string(root, "type"));
  return parse_as<Variant>(type, root);
}

}  // namespace

void Hello::write(json::Writer& w) const {
  w.key("version").uinteger(version);
  w.key("agent").string(agent);
  w.key("boot_ns").uinteger(boot_ns);
  w.key("kernel").string(kernel);
}
Result<Hello> Hello::parse(const json::Value& v) {
  Hello m;
  m.version = RUNVM_TRY(fields::u32(v, "version"));
  m.agent = RUNVM_TRY(fields::string(v, "agent"));
  m.boot_ns = RUNVM_TRY(fields::u64(v, "boot_ns"));
  m.kernel = RUNVM_TRY(fields::string(v, "kernel"));
  return m;
}

void Pong::write(json::Writer& w) const { w.key("id").uinteger(id); }
Result<Pong> Pong::parse(const json::Value& v) { return Pong{RUNVM_TRY(fields::u64(v, "id"))}; }

void TransferDone::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("bytes").uinteger(bytes);
}
Result<TransferDone> TransferDone::parse(const json::Value& v) {
  TransferDone m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.bytes = RUNVM_TRY(fields::u64(v, "bytes"));
  return m;
}

void Ok::write(json::Writer& w) const { w.key("id").uinteger(id); }
Result<Ok> Ok::parse(const json::Value& v) { return Ok{RUNVM_TRY(fields::u64(v, "id"))}; }

void ErrorReply::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("message").string(message);
  if (exit_code) w.key("exit_code").uinteger(*exit_code);
}
Result<ErrorReply> ErrorReply::parse(const json::Value& v) {
  ErrorReply m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.message = RUNVM_TRY(fields::string(v, "message"));
  if (auto code = RUNVM_TRY(v.get("exit_code")))
    m.exit_code = static_cast<uint32_t>(RUNVM_TRY(fields::bounded(*code, 255)));
  return m;
}

void Ping::write(json::Writer& w) const { w.key("id").uinteger(id); }
Result<Ping> Ping::parse(const json::Value& v) { return Ping{RUNVM_TRY(fields::u64(v, "id"))}; }

void Transfer::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("port").uinteger(port);
  w.key("bytes").uinteger(bytes);
  w.key("seed").uinteger(seed);
}
Result<Transfer> Transfer::parse(const json::Value& v) {
  Transfer m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.port = RUNVM_TRY(fields::u32(v, "port"));
  m.bytes = RUNVM_TRY(fields::u64(v, "bytes"));
  if (m.bytes > kMaxTransferBytes)
    return make_error("bytes: must be at most " + std::to_string(kMaxTransferBytes));
  m.seed = RUNVM_TRY(fields::u64(v, "seed"));
  return m;
}

void Shutdown::write(json::Writer& w) const { w.key("id").uinteger(id); }
Result<Shutdown> Shutdown::parse(const json::Value& v) {
  return Shutdown{RUNVM_TRY(fields::u64(v, "id"))};
}

std::string to_json(const HostMessage& m) {
  return std::visit([](const auto& x) { return to_json(x); }, m);
}
std::string to_json(const AgentMessage& m) {
  return std::visit([](const auto& x) { return to_json(x); }, m);
}

Result<HostMessage> parse_host_message(std::string_view json) {
  return parse_message<HostMessage>(json);
}
Result<AgentMessage> parse_agent_message(std::string_view json) {
  return parse_message<AgentMessage>(json);
}

uint64_t salvage_id(std::string_view json) {
  auto doc = json::Document::parse(json);
  if (!doc.ok() || !doc->root().is_object()) return 0;
  auto id = fields::u64(doc->root(), "id");
  return id.ok() ? *id : 0;
}

std::string printable(std::string_view text, size_t max) {
  std::string out(text.substr(0, max));
  for (char& c : out)
    if (c < 0x20 || c > 0x7e) c = '?';
  return out;
}

}  // namespace runvm::proto
