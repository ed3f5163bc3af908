// The stdio plan of one container in its VM: which kind of fd its process
// gets for 0, 1 and 2 (the kinds of the shim's own, inherited from the
// caller), the host vsock ports the agent dials for them and the shim's ends
// of those streams. Several containers in one VM each get their own ports.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "guest/protocol/container_messages.h"
#include "shim/vm/micro_vm.h"
#include "spec/base/unique_fd.h"

namespace runvm {

// The host port for stdio stream `fd` (0..2) of the container numbered
// `index` in its VM: the first container has the agent protocol's
// kStdinPort..kStderrPort, each further one the three ports after the
// previous one's, all below kExecPortMin (Error past the last).
Result<uint32_t> container_stdio_port(size_t index, int fd);

struct ContainerStdio {
  proto::StdioPorts ports;
  // The shim's end of each stream (none: /dev/null, a file, or a terminal's stderr).
  std::array<UniqueFd, 3> host;
  // Regular files are served as they are (StdioFs), by fd: -1 for none.
  std::array<int, 3> files = {-1, -1, -1};
};

// Plans the streams of container `index` and registers their port handlers
// in `vm` (before it boots). `terminal`: a pty carries stdin and stdout.
// `pipes`: pipes whatever the shim's stdio is.
Result<ContainerStdio> plan_container_stdio(size_t index, bool terminal, bool pipes,
                                            MicroVmConfig& vm);

}  // namespace runvm
