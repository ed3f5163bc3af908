#include "guest/protocol/exec_messages.h"

#include "guest/protocol/fields.h"

namespace runvm::proto {

bool valid_exec_id(std::string_view id) { return valid_container_id(id); }

Result<std::string> parse_opt_exec_id(const json::Value& v) {
  if (!RUNVM_TRY(v.get("exec_id"))) return std::string();
  return parse_id(v, "exec_id");
}

void Exec::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("container_id").string(container_id);
  w.key("exec_id").string(exec_id);
  write_process_stdio(w, process, stdio);
}

Result<Exec> Exec::parse(const json::Value& v) {
  Exec m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.container_id = RUNVM_TRY(parse_container_id(v));
  m.exec_id = RUNVM_TRY(parse_id(v, "exec_id"));
  RUNVM_CHECK(parse_process_stdio(v, m.process, m.stdio));
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
  m.exec_id = RUNVM_TRY(parse_id(v, "exec_id"));
  m.status = RUNVM_TRY(parse_wait_status(v));
  return m;
}

}  // namespace runvm::proto
