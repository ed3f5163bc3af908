#include "shim/container/agent_request.h"

#include "shim/container/bind_shares.h"
#include "spec/cgroup/cgroup.h"

namespace runvm {

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
    // runc: 0 and negative memory limits mean none.
    const auto& m = l.resources->memory;
    if (m && m->limit && *m->limit > 0) out.memory_limit = static_cast<uint64_t>(*m->limit);
    if (const auto& c = l.resources->cpu) {
      if (c->quota) out.cpu_quota = *c->quota;
      // The kernel's bounds; out of them the host cgroup has refused it.
      if (c->period && *c->period >= 1000 && *c->period <= 1000000) out.cpu_period = *c->period;
      if (c->shares && *c->shares > 0) out.cpu_weight = cgroup::cpu_weight_of_shares(*c->shares);
    }
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

bool wants_own_pid_namespace(const oci::Config& config) {
  if (!config.linux_) return false;
  for (const auto& ns : config.linux_->namespaces)
    if (ns.type == oci::NamespaceType::kPid) return ns.path.empty();
  return false;
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
