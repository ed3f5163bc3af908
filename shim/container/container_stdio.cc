#include "shim/container/container_stdio.h"

#include <sys/socket.h>

#include <memory>

#include "guest/protocol/constants.h"
#include "guest/protocol/stdio_kind.h"

namespace runvm {

Result<uint32_t> container_stdio_port(size_t index, int fd) {
  constexpr size_t kMaxContainers = (proto::kExecPortMin - proto::kStdinPort) / 3;
  if (index >= kMaxContainers || fd < 0 || fd > 2)
    return make_error("no stdio port left for container " + std::to_string(index), ERANGE);
  return proto::kStdinPort + static_cast<uint32_t>(3 * index) + static_cast<uint32_t>(fd);
}

Result<ContainerStdio> plan_container_stdio(size_t index, bool terminal, bool pipes,
                                            MicroVmConfig& vm) {
  // Our stdio is the container's (inherited from the caller): the process
  // gets the same kind of fd in the guest, and no stream for /dev/null. A
  // terminal process's pty carries stdin and stdout, relayed to the console.
  std::optional<proto::StdioKind> kinds[3];
  if (terminal)
    kinds[0] = kinds[1] = proto::StdioKind::kTty;
  else
    for (int fd = 0; fd < 3; ++fd)
      kinds[fd] = pipes ? proto::StdioKind::kPipe : proto::stdio_kind_of_fd(fd);
  ContainerStdio out;
  uint32_t* port[3] = {&out.ports.stdin_port, &out.ports.stdout_port, &out.ports.stderr_port};
  proto::StdioKind* kind[3] = {&out.ports.stdin_kind, &out.ports.stdout_kind,
                               &out.ports.stderr_kind};
  for (int i = 0; i < 3; ++i) {
    if (!kinds[i]) continue;
    *kind[i] = *kinds[i];
    if (*kinds[i] == proto::StdioKind::kFile || *kinds[i] == proto::StdioKind::kAppendFile) {
      out.files[i] = i;
      continue;
    }
    // One end of a socketpair is handed to the vsock device on the guest's
    // first connection to the port; the other end stays with the shim.
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
      return errno_error("socketpair");
    out.host[i].reset(sv[0]);
    auto device_end = std::make_shared<UniqueFd>(sv[1]);
    *port[i] = RUNVM_TRY(container_stdio_port(index, i));
    vm.port_handlers.emplace_back(*port[i], [device_end]() -> Result<UniqueFd> {
      if (!device_end->valid()) return make_error("stdio already connected", EADDRINUSE);
      return std::move(*device_end);
    });
  }
  return out;
}

}  // namespace runvm
