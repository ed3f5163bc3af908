#include "shim/container/agent_request.h"

#include <algorithm>

namespace runvm {

Result<proto::Create> make_create_request(const std::string& container_id,
                                          const oci::Config& config, const StdioPortSet& ports) {
  if (!config.process) return make_error("process: is required");
  const oci::Process& p = *config.process;
  proto::Create req;
  req.container_id = container_id;
  req.rootfs = {kRootfsTag, config.root.readonly};
  req.hostname = config.hostname;
  req.process.terminal = p.terminal;
  req.process.args = p.args;
  req.process.env = oci::effective_env(p.env);
  req.process.cwd = p.cwd;
  req.process.user.uid = p.user.uid;
  req.process.user.gid = p.user.gid;
  req.process.user.umask = p.user.umask.value_or(0022);
  req.process.user.additional_gids = p.user.additional_gids;
  for (const auto& r : p.rlimits) req.process.rlimits.push_back({r.type, r.soft, r.hard});
  req.process.no_new_privileges = p.no_new_privileges;
  if (p.terminal && p.console_size) {
    auto clamp = [](uint32_t v) { return static_cast<uint16_t>(std::min<uint32_t>(v, 0xffff)); };
    req.process.console_size =
        proto::ConsoleSize{clamp(p.console_size->height), clamp(p.console_size->width)};
  }
  req.stdio = {ports.in, ports.out, ports.err};
  return req;
}

}  // namespace runvm
