#include "guest/protocol/messages.h"

#include "guest/protocol/fields.h"

namespace runvm::proto {

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
  return parse_variant<HostMessage>(json);
}
Result<AgentMessage> parse_agent_message(std::string_view json) {
  return parse_variant<AgentMessage>(json);
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
