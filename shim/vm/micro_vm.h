// One running microVM with its devices and agent: the engine process, our
// in-process vhost-user vsock backend on its own event-loop thread, and the
// agent control channel. boot() returns once the agent said hello; the
// destructor leaves no process, thread or socket behind.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "guest/protocol/messages.h"
#include "shim/agent/agent_client.h"
#include "shim/engine/engine.h"
#include "shim/fs/fs_device.h"
#include "shim/vhost_user/server.h"
#include "shim/vsock/device.h"
#include "spec/base/event_loop.h"
#include "spec/base/state_layout.h"

namespace runvm {

// A host directory served to the guest by our virtio-fs backend.
struct FsShare {
  std::string tag;  // the guest mounts it with `mount -t virtiofs <tag>`
  FsConfig fs;
  std::shared_ptr<FuseServer> server;  // set: serves this instead of fs
};

// Serves guest connections to a host vsock port in-process (see
// VsockDevice::set_port_handler); runs on the device thread.
using PortHandler = std::function<Result<UniqueFd>()>;

struct MicroVmConfig {
  std::string state_dir;   // exists; holds logs
  std::string socket_dir;  // exists; holds sockets (short: sun_path); empty = state_dir
  MachineConfig machine;
  uint64_t guest_cid = 3;
  int agent_timeout_ms = 30000;
  std::vector<FsShare> shares;
  std::vector<TapDevice> taps;  // network (shim/net); QEMU inherits their fds
  std::vector<std::pair<uint32_t, PortHandler>> port_handlers;
  // Requests pipelined behind the boot (AgentClient::send): called once the
  // agent's stream exists, before its hello, so that they reach the agent
  // with its first read instead of a round trip after the hello.
  std::function<void(AgentClient&)> before_hello;
};

class MicroVm {
 public:
  static Result<std::unique_ptr<MicroVm>> boot(const MicroVmConfig& config);
  ~MicroVm();

  AgentClient& agent() { return *agent_; }
  const proto::Hello& hello() const { return hello_; }
  // Wall time from engine start to the agent's hello.
  double boot_to_agent_ms() const { return boot_to_agent_ms_; }
  Engine& engine() { return *engine_; }
  // What the VM booted with (its RAM is the most set_memory may give it).
  const MachineConfig& machine() const { return config_.machine; }

  // Hybrid vsock socket: host clients CONNECT here; guest connections to
  // host port P go to vsock_path() + "_P".
  std::string vsock_path() const { return socket_dir() + "/" + layout::kVsockSocket; }
  const std::string& socket_dir() const {
    return config_.socket_dir.empty() ? config_.state_dir : config_.socket_dir;
  }
  std::string console_log() const { return config_.state_dir + "/" + layout::kConsoleLog; }
  // Guest data the vsock device handed to host sockets so far (streams to
  // relays, the agent's replies), plus the device timer's ticks at which a
  // host reader had taken some: it grows while a host reader takes output.
  uint64_t vsock_bytes_to_host() const {
    return vsock_ ? vsock_->bytes_to_host() + vsock_->host_reads() : 0;
  }
  // Connections still delivering guest data to a host reader (VsockDevice).
  size_t vsock_flushing_to_host() const { return vsock_ ? vsock_->flushing_to_host() : 0; }

  // Stops / restarts every vCPU (runvm pause of the VM's first container).
  // While stopped, the agent answers nothing.
  Status pause();
  Status resume();
  bool paused() const { return paused_; }
  // Agent requests that need the vCPUs to run until answered (a pod
  // member's freeze or thaw): bracketed by begin/end_vcpu_request.
  // pause_when_idle stops the vCPUs once none is in flight (`podman pod
  // pause` pauses the infra and the members at once), then calls `done`.
  // when_running runs `fn` now, or right after resume().
  void begin_vcpu_request() { ++vcpu_requests_; }
  void end_vcpu_request();
  void pause_when_idle(std::function<void(Status)> done);
  void when_running(std::function<void()> fn);

  // Makes the share tagged `tag` read-only from now on (PassthroughFs::seal_readonly).
  Status seal_share_readonly(const std::string& tag);

  // Orderly stop: the agent syncs the guest's file systems and acknowledges,
  // then the engine is killed (nothing is left in the guest), and 0 returned.
  // Without the agent's ok the engine quits (QMP `quit`, killed if it does
  // not), and its wait status is returned.
  // Where no share has a writeback cache (guest_holds_writes), the guest
  // has nothing to sync once every container's process was reaped (the
  // agent synced at each reap): the engine is killed at once, and 0
  // returned. `processes_run`: some still run (pod members at their
  // sandbox's end), whose pages dirtied through shared mappings since the
  // last reap only a sync writes back: the orderly stop then.
  Result<int> shutdown(bool processes_run = false);
  // Whether a share of this VM caches writes in the guest (FUSE writeback).
  bool guest_holds_writes() const;

  // Waits for the engine to exit on its own (e.g. the guest powered off).
  Result<int> wait();

  // Last lines of the guest console, for error messages.
  std::string console_tail(size_t lines = 5) const;

 private:
  explicit MicroVm(MicroVmConfig config) : config_(std::move(config)) {}
  Status start();
  Status add_test_hook();
  // The boot's error when the hello did not come: with how QEMU ended, if it did.
  Error boot_failure(Error cause);
  void delay_hello_for_test();
  void stop_loop();
  // Stops the device thread and drops the backends, with their mappings of
  // the guest's RAM. Once QEMU is killed, while it exits: its exit (its
  // mm's teardown, on another core) and ours overlap, and the RAM is freed
  // by whichever lets go last, instead of QEMU's exit first and then our
  // unmapping (each tens of ms here). Idempotent.
  void release_devices();
  // Per-share FUSE request counts: to the debug log and to $RUNVM_FS_STATS.
  void report_fs_stats() const;

  MicroVmConfig config_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<VsockDevice> vsock_;
  std::unique_ptr<vhost_user::VhostUserServer> vsock_server_;
  std::vector<std::unique_ptr<FsDevice>> fs_devices_;
  std::vector<std::unique_ptr<vhost_user::VhostUserServer>> fs_servers_;
  std::thread loop_thread_;
  UniqueFd test_hook_;  // test builds: add_test_hook()
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<AgentClient> agent_;
  proto::Hello hello_;
  double boot_to_agent_ms_ = 0;
  bool reaped_ = false;
  bool paused_ = false;
  int vcpu_requests_ = 0;
  std::vector<std::function<void()>> after_idle_, after_resume_;
};

}  // namespace runvm
