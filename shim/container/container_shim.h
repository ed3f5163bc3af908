// The shim's container lifecycle: boot the VM with the bundle's rootfs on
// virtio-fs, have the agent create the process, then serve the control
// socket (start, kill, ...) and relay stdio until the process exits.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "shim/client/console.h"
#include "shim/client/control.h"
#include "shim/container/exec_sessions.h"
#include "shim/container/stdio_pump.h"
#include "shim/net/tap_bridge.h"
#include "shim/vm/micro_vm.h"
#include "spec/base/state_layout.h"
#include "spec/config.h"

namespace runvm {

struct ContainerShimOptions {
  std::string id;
  std::string state_dir;
  oci::Bundle bundle;
  MicroVmConfig vm;            // kernel, initrd, accel, sizing; shares and ports are added here
  std::string console_socket;  // terminal: where the pty master goes
  // Pipes for the process whatever our stdio is (a foreground run: runc
  // copies through pipes of its own then); else the kinds of our stdio.
  bool stdio_pipes = false;
};

class ContainerShim {
 public:
  // Boots and creates the container process (not yet started).
  static Result<std::unique_ptr<ContainerShim>> create(ContainerShimOptions options);
  ~ContainerShim();

  // Serves control requests and forwards the signals in `forwarded` (a
  // signalfd) to the container until its process exits; returns its wait
  // status. The VM is shut down before returning.
  Result<int> serve(int signal_fd);

 private:
  explicit ContainerShim(ContainerShimOptions o) : opts_(std::move(o)) {}
  Status boot();
  std::string control_path() const {
    return (opts_.vm.socket_dir.empty() ? opts_.state_dir : opts_.vm.socket_dir) + "/" +
           layout::kShimSocket;
  }
  Status handle_control(int listen_fd);
  // One per control request answered with a Reply (Exec goes to execs_):
  // handle_control's std::visit fails to compile without each.
  Status on(const control::Start&);
  Status on(const control::Kill& k);
  Status on(const control::Pause&);
  Status on(const control::Resume&);
  Status on(const control::Resize& r);
  void write_status(const char* status);
  // `drain`: false once the VM died, as its streams did.
  Result<int> finish(int wait_status, bool drain = true);

  ContainerShimOptions opts_;
  // The container's network namespace taken over (issue 10); declared
  // before vm_ so its taps and filters go after QEMU.
  std::optional<net::TapBridge> network_;
  std::unique_ptr<MicroVm> vm_;
  UniqueFd control_;                // listening control socket
  std::optional<Console> console_;  // before the pumps that use its slave
  std::unique_ptr<StdioPump> in_, out_, err_;
  std::unique_ptr<ExecSessions> execs_;  // runvm exec clients
  bool started_ = false;
};

}  // namespace runvm
