#include "shim/client/exec_control.h"

#include "spec/base/json.h"

namespace runvm::control {

std::string encode_exec(const ExecRequest& r) {
  json::Writer w;
  w.begin_object().key("op").string("exec");
  w.key("process");
  proto::write_process(w, r.process);
  w.key("stdio");
  proto::write_stdio(w, r.stdio);
  w.end_object();
  return w.str();
}

Result<ExecRequest> parse_exec(std::string_view json) {
  auto doc = RUNVM_TRY(json::Document::parse(json));
  auto root = doc.root();
  if (!root.is_object()) return make_error("request must be a JSON object");
  ExecRequest r;
  r.process = RUNVM_TRY(proto::parse_process(RUNVM_TRY(root.at("process"))));
  r.stdio = RUNVM_TRY(proto::parse_stdio(RUNVM_TRY(root.at("stdio"))));
  return r;
}

std::string encode_exec_reply(const Status& s, std::optional<int> exit_code) {
  json::Writer w;
  w.begin_object().key("ok").boolean(s.ok());
  if (!s.ok()) w.key("error").string(s.error().message);
  if (!s.ok() && exit_code) w.key("exit_code").integer(*exit_code);
  w.end_object();
  return w.str();
}

Result<ExecReply> parse_exec_reply(std::string_view json) {
  auto doc = RUNVM_TRY(json::Document::parse(json));
  auto root = doc.root();
  ExecReply r;
  if (RUNVM_TRY(RUNVM_TRY(root.at("ok")).as_bool())) return r;
  auto err = RUNVM_TRY(root.get("error"));
  r.status = make_error(err ? RUNVM_TRY(err->as_string()) : "shim refused the exec");
  if (auto code = RUNVM_TRY(root.get("exit_code"))) {
    int64_t n = RUNVM_TRY(code->as_int());
    if (n < 0 || n > 255) return code->error("must be 0..255");
    r.exit_code = static_cast<int>(n);
  }
  return r;
}

std::string encode_exec_exit(int wait_status) {
  json::Writer w;
  w.begin_object().key("exit_status").integer(wait_status).end_object();
  return w.str();
}

Result<int> parse_exec_exit(std::string_view json) {
  auto doc = RUNVM_TRY(json::Document::parse(json));
  json::Value v = RUNVM_TRY(doc.root().at("exit_status"));
  int64_t n = RUNVM_TRY(v.as_int());
  if (n < 0 || n > 0xffff) return v.error("must be a wait status (0..65535)");
  return static_cast<int>(n);
}

}  // namespace runvm::control
