// The VM engine interface: everything the runtime needs from a hypervisor
// process. Kept small so another engine (e.g. Cloud Hypervisor) can be added
// beside QEMU without touching callers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "spec/base/result.h"

namespace runvm {

struct VhostUserDevice {
  enum Kind { kVsock, kFs } kind;
  std::string socket;      // the shim listens; the engine connects as client
  uint64_t guest_cid = 3;  // vsock: served by the backend (VHOST_USER_GET_CONFIG),
                           // QEMU has no option for it
  std::string tag;         // fs: mount tag seen by the guest
};

// A virtio-net device on a tap (shim/net/tap_bridge.h): QEMU inherits `fd`
// under the same number and uses it as -netdev tap,fd=N.
struct TapDevice {
  int fd = -1;
  std::string mac;  // "02:42:0a:58:00:05", the namespace interface's
};

// The machine itself: the engine binary, accelerator, size and what it boots.
// One struct for every layer that describes a VM (VmConfig for the engine
// process, MicroVmConfig for the VM with its devices and agent), so a setting
// is added once and handed down whole.
struct MachineConfig {
  std::string qemu = "qemu-system-x86_64";
  bool kvm = false;
  unsigned vcpus = 1;
  uint64_t memory_mib = 256;
  // TCG only: the translation cache's size (-accel tcg,tb-size=); 0: QEMU's
  // default (1 GiB). runvm.toml's vm.tcg_tb_size.
  uint64_t tcg_tb_size_mib = 0;
  std::string kernel, initrd;
  std::string cmdline_extra;  // appended to the engine's own kernel command line
  std::string cpuset;         // linux.resources.cpu.cpus: the vCPU threads are pinned to it
  std::string qemu_user;      // runvm.toml's vm.qemu_user: a name or UID[:GID]; "": root
  // TCG only: the host's TSC rate (host_tsc.h), the guest's clocksource then;
  // 0: unknown, the guest keeps time in jiffies. QemuEngine::start sets it.
  uint64_t tsc_khz = 0;
};

struct VmConfig {
  MachineConfig machine;
  std::string console_log;  // guest serial console goes to this file
  std::string engine_log;   // QEMU's own stdout/stderr
  std::vector<VhostUserDevice> devices;
  std::vector<TapDevice> taps;  // network (issue 10); none: the guest has loopback only
  bool start_paused = false;    // vCPUs stay stopped until resume()
  // start() fails if the control channel is not up by then; QEMU answers
  // only after vhost-user negotiation with the shim's backends.
  std::chrono::milliseconds start_timeout{10000};
};

class Engine {
 public:
  virtual ~Engine();
  // Spawns the VM; returns once the process runs and its control channel is
  // connected. Tolerates a slow start (vhost-user negotiation happens first).
  virtual Status start(const VmConfig& config) = 0;
  virtual Status pause() = 0;
  virtual Status resume() = 0;
  // The guest's RAM from now on, in bytes, at most the boot size: a balloon
  // takes the rest back (the guest sees MemTotal drop).
  virtual Status set_memory(uint64_t bytes) = 0;
  // Pins the vCPU threads to `cpus` (a cpuset list) from now on. The vCPU
  // count stays: microvm has no CPU hotplug.
  virtual Status set_cpuset(const std::string& cpus) = 0;
  // Asks the VM to quit; escalates to SIGKILL after a short grace. Does not
  // reap: wait() does, so an event loop watching pidfd() stays in charge.
  virtual Status stop() = 0;
  // Ends the VM at once (SIGKILL), for a guest with nothing left to lose (its
  // agent synced and acknowledged a shutdown): QEMU's own quit, which stops
  // every vhost-user device in turn, costs tens of ms under TCG. Does not reap.
  virtual Status kill() = 0;
  // Reaps the process (blocking); returns its wait status.
  virtual Result<int> wait() = 0;
  virtual pid_t pid() const = 0;
  virtual int pidfd() const = 0;  // readable once the process exited
};

Result<std::unique_ptr<Engine>> make_qemu_engine();

}  // namespace runvm
