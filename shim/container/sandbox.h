// The VM-level part of runvm-shim: one microVM (its devices, the agent
// channel), the control socket and the shim's event loop, holding the
// containers of that VM by id (ContainerShim). The first container is the
// one the shim was started for; the VM lives as long as it does.
//
// Everything runs on one event loop in the main thread: control clients,
// the agent's replies and exit events, the VM's pidfd, forwarded signals,
// exec sessions and the console size check. No request waits for another:
// a kill or a resize is answered while an exec is still being set up.
// (Devices run on the VM's own device thread; stdio relays on StdioPump
// threads, see container_shim.cc.)
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "guest/protocol/frame.h"
#include "shim/confine/confine.h"
#include "shim/container/container_shim.h"
#include "shim/container/control_server.h"
#include "shim/container/member_binds.h"
#include "shim/container/member_root.h"
#include "shim/net/pool_nic.h"
#include "shim/net/tap_bridge.h"
#include "shim/vm/micro_vm.h"
#include "spec/base/event_loop.h"

namespace runvm {

struct SandboxOptions {
  MicroVmConfig vm;  // kernel, initrd, accel, sizing; shares and ports are added here
  ContainerOptions first;
  // A pod sandbox (issue 12): the VM exports <state dir>/pod as the share
  // "pod", where members' rootfs are bound, and takes members (Create).
  bool pod = false;
  // A pool unit (issue 14, runvm-pool(8)): the VM boots with the "pod"
  // share only and no container (`first` unused); it waits for one member,
  // the container that claimed it, and ends with it. Never a second one.
  bool pool = false;
};

class Sandbox {
 public:
  // Boots the VM and creates the first container's process (not yet started).
  static Result<std::unique_ptr<Sandbox>> create(SandboxOptions options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Serves control requests and forwards the signals read from `signal_fd`
  // (a signalfd; -1: none) to the first container until its process exits;
  // returns its wait status. The VM is shut down before returning.
  Result<int> serve(int signal_fd);

  // What the control thread still does after boot (its capabilities).
  // A pool unit binds its member as a pod sandbox does; it confines its
  // control thread once claimed (sandbox_members.cc), when its tap was
  // moved into the container's namespace or left unused.
  confine::ControlNeeds control_needs() const {
    return {opts_.pod || opts_.pool, network_.has_value()};
  }

 private:
  explicit Sandbox(SandboxOptions o) : opts_(std::move(o)) {}
  Status boot();
  std::string control_path() const;
  void on_request(control::Addressed request, UniqueFd conn);
  void on_signal(int signal_fd);
  // Pod members (sandbox_members.cc): a Create on `conn`, answered there;
  // the member's relay then holds `conn` for its follow-ups and exit.
  void add_member(const std::string& id, control::Create req, UniqueFd conn);
  // A pool unit's claim, once its member is prepared: confines the control
  // thread, configures the guest's network (PoolNic), then creates it.
  void claim_and_create(const std::string& id);
  void create_member_process(const std::string& id);
  void member_created(const std::string& id, Status s);
  void member_readable(const std::string& id);
  void member_ended(const std::string& id, int wait_status);
  // After the loop: every member's relay gets `wait_status`, every bind goes.
  void end_members(int wait_status);
  // The first container ended (`drain`: false once the VM died, as its
  // streams did): the loop stops.
  void end(int wait_status, bool drain);

  SandboxOptions opts_;
  // Declared first, destroyed last: everything below registers with it.
  std::unique_ptr<EventLoop> loop_;
  std::map<std::string, std::unique_ptr<ContainerShim>> containers_;  // by id
  std::string first_;
  // Taps of the container's network namespace: removed once QEMU is gone.
  std::optional<net::TapBridge> network_;
  // A pool unit's one NIC until its claim (pool_nic.h); a claimer with an
  // interface takes its tap into network_.
  std::optional<net::PoolNic> pool_nic_;
  // Destroyed before the containers: its agent client never calls back
  // into a container that is gone.
  std::unique_ptr<MicroVm> vm_;
  std::unique_ptr<ControlServer> control_;
  struct Ending {
    int wait_status;
    bool drain;
  };
  std::optional<Ending> ending_;
  std::string pod_dir_;   // a pod sandbox's share on the host
  bool claimed_ = false;  // a pool unit took its one member
  struct Member {
    UniqueFd conn;  // the member's relay; invalid once it left
    proto::FrameDecoder decoder{64 * 1024};
    MemberRoot root;    // its rootfs bound in pod_dir_; unbound once gone
    MemberBinds binds;  // its bind sources in pod_dir_
  };
  std::map<std::string, std::unique_ptr<Member>> members_;  // by id, until they end
  // A pool unit's member ended: its relay, until it left (member_ended), or
  // until the vsock device handed the host no byte for kRelayDrain (checked
  // every kRelayDrain), at most kRelayDrainMax.
  static constexpr std::chrono::milliseconds kRelayDrain{5000};
  static constexpr std::chrono::milliseconds kRelayDrainMax{300000};
  UniqueFd leaving_relay_;
  std::unique_ptr<Timer> relay_drain_;
  uint64_t relay_drain_bytes_ = 0;
};

}  // namespace runvm
