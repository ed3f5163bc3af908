// Hostile bodies on the shim's control socket (shim/client/CONTROL.md): every
// parser must refuse or accept without crashing, and whatever it accepts
// must encode and parse back to the same message.
#include <cstdlib>

#include "shim/client/control.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runvm::control;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = parse_request(in); r.ok()) {
    auto back = parse_request(encode(*r));
    check(back.ok() && *back == *r);
  }
  if (auto f = parse_exec_follow_up(in); f.ok()) {
    auto back = parse_exec_follow_up(std::visit([](const auto& m) { return encode(m); }, *f));
    check(back.ok() && *back == *f);
  }
  if (auto r = parse_reply(in); r.ok()) {
    auto back = parse_reply(encode(*r));
    check(back.ok() && back->status.ok() == r->status.ok());
    if (!r->status.ok()) check(back->status.error().message == r->status.error().message);
  }
  if (auto r = parse_exec_reply(in); r.ok()) {
    auto back = parse_exec_reply(encode(*r));
    check(back.ok() && back->status.ok() == r->status.ok() && back->exit_code == r->exit_code);
  }
  if (auto r = parse_stats_reply(in); r.ok()) {
    auto back = parse_stats_reply(encode(*r));
    check(back.ok() && back->status.ok() == r->status.ok());
    if (r->status.ok()) check(back->stats == r->stats);
  }
  if (auto e = parse_exec_exit(in); e.ok()) {
    auto back = parse_exec_exit(encode(*e));
    check(back.ok() && *back == *e);
  }
  return 0;
}
