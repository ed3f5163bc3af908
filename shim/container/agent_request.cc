#include "shim/container/agent_request.h"

#include <algorithm>

#include "shim/container/bind_shares.h"

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

Result<proto::LinuxSpec> make_linux_spec(const oci::Config& config) {
  proto::LinuxSpec out;
  out.domainname = config.domainname;
  out.mounts = RUNVM_TRY(plan_mounts(config.mounts)).mounts;
  if (!config.linux_) return out;
  const oci::Linux& l = *config.linux_;
  out.sysctl = l.sysctl;
  for (const auto& d : l.devices)
    out.devices.push_back({d.type, d.path, static_cast<uint32_t>(d.major),
                           static_cast<uint32_t>(d.minor), d.file_mode.value_or(0666),
                           d.uid.value_or(0), d.gid.value_or(0)});
  out.rootfs_propagation = l.rootfs_propagation;
  if (l.resources) {
    if (l.resources->pids && l.resources->pids->limit != 0)
      out.pids_limit = l.resources->pids->limit;
    for (const auto& h : l.resources->hugepage_limits)
      out.hugepage_limits.push_back({h.page_size, h.limit});
  }
  out.masked_paths = l.masked_paths;
  out.readonly_paths = l.readonly_paths;
  if (l.seccomp) {
    const oci::Seccomp& s = *l.seccomp;
    proto::Seccomp& o = out.seccomp.emplace();
    o.default_action = s.default_action;
    o.default_errno_ret = s.default_errno_ret;
    o.architectures = s.architectures;
    o.flags = s.flags;
    for (const auto& c : s.syscalls) {
      proto::SeccompSyscall& call = o.syscalls.emplace_back();
      call.names = c.names;
      call.action = c.action;
      call.errno_ret = c.errno_ret;
      for (const auto& a : c.args) call.args.push_back({a.index, a.value, a.value_two, a.op});
    }
  }
  return out;
}

Result<proto::Create> make_create_request(const std::string& container_id,
                                          const oci::Config& config,
                                          const proto::StdioPorts& stdio) {
  if (!config.process) return make_error("process: is required");
  const oci::Process& p = *config.process;
  proto::Create req;
  req.container_id = container_id;
  req.rootfs = {kRootfsTag, config.root.readonly};
  req.hostname = config.hostname;
  req.process = RUNVM_TRY(make_process(p));
  req.stdio = stdio;
  req.linux_spec = RUNVM_TRY(make_linux_spec(config));
  return req;
}

}  // namespace runvm
