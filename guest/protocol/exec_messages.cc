#include "guest/protocol/exec_messages.h"

#include "guest/protocol/fields.h"

namespace runvm::proto {
namespace {

Result<std::string> parse_exec_id(const json::Value& v) {
  json::Value field = RUNVM_TRY(v.at("exec_id"));
  std::string id = RUNVM_TRY(field.as_string());
  if (!valid_exec_id(id)) return field.error("must match [A-Za-z0-9_+.-]+ (at most 256)");
  return id;
}

}  // namespace

bool valid_exec_id(std::string_view id) { return valid_container_id(id); }

Result<std::string> parse_opt_exec_id(const json::Value& v) {
  if (!RUNVM_TRY(v.get("exec_id"))) return std::string();
  return parse_exec_id(v);
}

void Exec::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("container_id").string(container_id);
  w.key("exec_id").string(exec_id);
  w.key("process");
  write_process(w, process);
  w.key("stdio");
  write_stdio(w, stdio);
}

Result<Exec> Exec::parse(const json::Value& v) {
  Exec m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.container_id = RUNVM_TRY(parse_container_id(v));
  m.exec_id = RUNVM_TRY(parse_exec_id(v));
  m.process = RUNVM_TRY(parse_process(RUNVM_TRY(v.at("process"))));
  if (auto stdio = RUNVM_TRY(v.get("stdio"))) m.stdio = RUNVM_TRY(parse_stdio(*stdio));
  return m;
}

void ExecExit::write(json::Writer& w) const {
  w.key("container_id").string(container_id);
  w.key("exec_id").string(exec_id);
  w.key("status").uinteger(status);
}

Result<ExecExit> ExecExit::parse(const json::Value& v) {
  ExecExit m;
  m.container_id = RUNVM_TRY(parse_container_id(v));
  m.exec_id = RUNVM_TRY(parse_exec_id(v));
  m.status = static_cast<uint32_t>(RUNVM_TRY(fields::bounded(RUNVM_TRY(v.at("status")), 0xffff)));
  return m;
}

}  // namespace runvm::proto
