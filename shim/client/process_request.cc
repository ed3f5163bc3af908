#include "shim/client/process_request.h"

#include <algorithm>

namespace runvm {

Result<proto::Process> make_process(const oci::Process& p) {
  proto::Process out;
  out.terminal = p.terminal;
  out.args = p.args;
  out.env = oci::effective_env(p.env);
  out.cwd = p.cwd;
  out.user.uid = p.user.uid;
  out.user.gid = p.user.gid;
  out.user.umask = p.user.umask.value_or(0022);
  out.user.additional_gids = p.user.additional_gids;
  for (const auto& r : p.rlimits) out.rlimits.push_back({r.type, r.soft, r.hard});
  out.no_new_privileges = p.no_new_privileges;
  if (p.capabilities) {
    const oci::Capabilities& c = *p.capabilities;
    out.capabilities =
        proto::Capabilities{c.bounding, c.effective, c.inheritable, c.permitted, c.ambient};
  }
  out.oom_score_adj = p.oom_score_adj;
  if (p.io_priority)
    out.io_priority =
        proto::IoPriority{p.io_priority->io_class, static_cast<uint32_t>(p.io_priority->priority)};
  if (p.scheduler) {
    const oci::Scheduler& s = *p.scheduler;
    out.scheduler =
        proto::Scheduler{s.policy, s.nice, s.priority, s.flags, s.runtime, s.deadline, s.period};
  }
  if (p.terminal && p.console_size) {
    auto clamp = [](uint32_t v) { return static_cast<uint16_t>(std::min<uint32_t>(v, 0xffff)); };
    out.console_size =
        proto::ConsoleSize{clamp(p.console_size->height), clamp(p.console_size->width)};
  }
  return out;
}

}  // namespace runvm
