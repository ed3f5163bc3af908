// One container in the shim's VM (the VM-level part is Sandbox): its
// process created by the agent, its stdio relays and console, its exec
// sessions, its status file, and its answers to the control requests
// addressed to it. Runs on the sandbox's event loop once activated: every
// request to the agent completes in a callback and the process's exit
// arrives as an event, so nothing here ever waits for the guest.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "shim/agent/agent_client.h"
#include "shim/client/console.h"
#include "shim/client/control.h"
#include "shim/container/container_stdio.h"
#include "shim/container/exec_sessions.h"
#include "shim/container/status_file.h"
#include "shim/container/stdio_pump.h"
#include "shim/vm/micro_vm.h"
#include "spec/base/event_loop.h"
#include "spec/config.h"

namespace runvm {

struct ContainerOptions {
  std::string id;
  std::string state_dir;  // its status file goes there
  oci::Bundle bundle;
  std::string console_socket;  // terminal: where the pty master goes
  // Pipes for the process whatever our stdio is (a foreground run: runc
  // copies through pipes of its own then); else the kinds of our stdio.
  bool stdio_pipes = false;
  // Start the process as soon as it is created (`runvm run` with no hooks
  // and no terminal: nothing happens between its create and start): the
  // start goes to the agent right behind the create, a round trip less.
  bool start_at_once = false;
};

class ContainerShim {
 public:
  // Before the VM boots: plans the stdio of the container numbered `index`
  // in it and adds its shares and stdio ports to `vm`.
  static Result<std::unique_ptr<ContainerShim>> prepare(ContainerOptions options, size_t index,
                                                        MicroVmConfig& vm);
  // A pod member added to a running VM (issue 12): its stdio ports are its
  // relay's (the client listens on them, as for an exec), its root the
  // directory named by its id at the top of the share `share_tag`, its
  // mounts `mounts` (binds in that share: member_binds.h). A terminal's
  // pty is relayed by the relay, whose console it is.
  static Result<std::unique_ptr<ContainerShim>> prepare_member(ContainerOptions options,
                                                               const proto::StdioPorts& stdio,
                                                               std::string share_tag,
                                                               std::vector<proto::Mount> mounts);
  ~ContainerShim();
  ContainerShim(const ContainerShim&) = delete;
  ContainerShim& operator=(const ContainerShim&) = delete;

  const std::string& id() const { return opts_.id; }
  bool readonly_root() const { return opts_.bundle.config.root.readonly; }

  // The first container's create request, built before the boot so that it
  // goes to the agent with its boot (MicroVmConfig::before_hello).
  Result<proto::Create> create_request() const;
  // Once the VM is up, before a loop drives the agent: waits for the agent
  // to create the process (`sent`: the create_request, stopped before its
  // execve), then the stdio relays start; status "created".
  Status create(MicroVm& vm, const AgentClient::Outcome& sent);
  // Started at once: its process may end before activate(), its exit
  // arriving right behind the hello and the create's reply, all read by
  // the boot's wait for the hello: held (on_exit) from before the create
  // is sent, not dropped as one of an unknown container (`runvm run` then
  // waited forever).
  void hold_early_exit(AgentClient& agent);
  bool start_at_once() const { return opts_.start_at_once; }
  // start_at_once, after create(): waits for the agent to start the process
  // (`sent`: the Start pipelined behind the create); status "running".
  Status await_start(const AgentClient::Outcome& sent);
  // A member's create, on the running loop: the agent creates the process
  // (stopped before its execve); once it did, status "created" and the
  // container is activated with `ended`. `done` runs last, with the outcome.
  void create_member(MicroVm& vm, EventLoop& loop, std::function<void(int wait_status)> ended,
                     std::function<void(Status)> done);
  // A member's process ended (on the loop): status "stopped", its execs end
  // and the rest of its processes are killed (nothing is waited for).
  void end_member();
  // From now on on `loop`. `ended` runs once, with the process's wait status.
  Status activate(EventLoop& loop, std::function<void(int wait_status)> ended);
  // A control request addressed to this container, answered on `conn`.
  void handle(control::Request request, UniqueFd conn);
  // The shim's own pid stands for the container: signals sent to it go on.
  void forward_signal(int sig);
  // Once the loop stopped (the agent is driven by blocking calls again):
  // status "stopped", every exec ends, and with `drain` the rest of the
  // container's processes are killed and its output delivered.
  void finish(bool drain);

 private:
  using Respond = std::function<void(Status)>;
  explicit ContainerShim(ContainerOptions o) : opts_(std::move(o)), status_file_(opts_.state_dir) {}
  // One per control request answered with a Reply (Exec goes to execs_):
  // handle's std::visit fails to compile without each.
  void on(const control::Start&, Respond respond);
  void on(const control::Kill& k, Respond respond);
  void on(const control::Pause&, Respond respond);
  void on(const control::Resume&, Respond respond);
  void on(const control::Resize& r, Respond respond);
  void on(const control::UpdateMemory& u, Respond respond);
  void on(const control::UpdateResources& u, Respond respond);
  // Stats: the agent's numbers, answered with a StatsReply on `conn`.
  void stats(std::shared_ptr<UniqueFd> conn);
  // A member's pause/resume: the agent's freeze/thaw of its guest cgroup.
  void freeze_member(bool frozen, Respond respond);
  void on_exit(const proto::Exit& exit);
  // The guest's OOM killer has killed `kills` of its processes so far (a
  // live `oom` event or the exit's count): when more than recorded, the
  // count goes to <state dir>/oom_kills for `runvm events` and the mark to
  // <bundle>/oom for Podman/CRI-O (as conmon leaves it).
  void record_oom(uint64_t kills);
  void check_console_size();
  void write_status(const char* status);

  ContainerOptions opts_;
  StatusFile status_file_;  // <state dir>/status
  std::string rootfs_tag_;
  std::string rootfs_path_;  // a member's directory in the pod share
  std::vector<proto::Mount> member_mounts_;
  ContainerStdio stdio_;
  MicroVm* vm_ = nullptr;
  EventLoop* loop_ = nullptr;
  std::optional<Console> console_;  // before the pumps that use its slave
  std::unique_ptr<StdioPump> in_, out_, err_;
  std::unique_ptr<ExecSessions> execs_;  // runvm exec clients
  std::unique_ptr<Timer> console_timer_;
  std::function<void(int)> ended_;
  bool starting_ = false, started_ = false, exited_ = false;
  bool member_ended_ = false;  // end_member() ran
  // An exit that came before activate() (start_at_once): ended_ gets it then.
  std::optional<int> early_exit_;
  uint64_t oom_kills_ = 0;  // recorded so far
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace runvm
