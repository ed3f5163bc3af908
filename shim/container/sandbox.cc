#include "shim/container/sandbox.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/protocol/frame.h"
#include "shim/container/agent_request.h"
#include "shim/net/container_network.h"
#include "spec/base/log.h"
#include "spec/base/state_layout.h"
#include "spec/base/timeline.h"

namespace runvm {

Result<std::unique_ptr<Sandbox>> Sandbox::create(SandboxOptions options) {
  std::unique_ptr<Sandbox> s(new Sandbox(std::move(options)));
  RUNVM_CHECK(s->boot());
  return s;
}

Sandbox::~Sandbox() = default;

std::string Sandbox::control_path() const {
  const auto& vm = opts_.vm;
  return (vm.socket_dir.empty() ? vm.state_dir : vm.socket_dir) + "/" + layout::kShimSocket;
}

Status Sandbox::boot() {
  loop_ = RUNVM_TRY(EventLoop::create());
  MicroVmConfig vm = opts_.vm;
  first_ = opts_.first.id;
  std::unique_ptr<ContainerShim> first;
  // A pool unit has no container yet: one NIC on a tap of its own, which
  // its claimer's interface takes (pool_nic.h), and its share is the pod dir.
  if (opts_.pool) {
    pool_nic_ = RUNVM_TRY(net::PoolNic::open().context("pool unit network device"));
    vm.taps = {pool_nic_->device()};
  } else {
    // Network (issue 10): the VM takes over the first container's network
    // namespace (taps joined to its interfaces), or has loopback only.
    network_ = RUNVM_TRY(net::attach_container_network(opts_.first.bundle.config));
    if (network_) vm.taps = net::tap_devices(*network_);
    first = RUNVM_TRY(ContainerShim::prepare(std::move(opts_.first), 0, vm));
  }
  if (opts_.pod || opts_.pool) {
    pod_dir_ = vm.state_dir + "/" + layout::kPodDir;
    if (mkdir(pod_dir_.c_str(), 0700) != 0 && errno != EEXIST) {
      Error e = errno_error("mkdir " + pod_dir_);
      pod_dir_.clear();
      return e;
    }
    // Coherent: members' roots appear in it after boot. No cached misses:
    // a member's root or bind is bound here and used by the guest at once,
    // possibly under a name it looked up (and missed) a moment ago.
    FsConfig pod{pod_dir_, CachePolicy::kCoherent, false};
    pod.cache_misses = false;
    pod.fresh_names_dir = layout::kPodBindsDir;
    vm.shares.push_back({kPodShareTag, std::move(pod)});
    // A unit's agent mounts the share while the unit waits idle
    // (guest/agent/container_root.h): its member's create binds its root
    // from there, without a FUSE_INIT and mount on the claim's path. The
    // share's directory exists and is served from now on; the member's
    // root appears in it at the claim (coherent, no cached misses).
    if (opts_.pool)
      vm.machine.cmdline_extra += (vm.machine.cmdline_extra.empty() ? "" : " ") +
                                  std::string("runvm.premount=") + kPodShareTag;
  }
  // The guest network and the first create go with the boot: the agent
  // finds them behind its hello, in this order (the process expects its
  // network at start), instead of a round trip after the hello.
  std::optional<proto::Create> create;
  if (first) create = RUNVM_TRY(first->create_request());
  std::optional<proto::NetworkConfig> guest_network;
  if (network_) guest_network = network_->network();
  // A pool unit's NIC leaves the guest's namespace until a claimer's
  // interface names it (PROTOCOL.md, configure_network): a container with
  // loopback only sees what a cold start's would, at no cost at the claim.
  if (pool_nic_) guest_network = proto::NetworkConfig{.hide_unnamed = true};
  // Started at once (`runvm run`): the start follows, and the agent begins
  // it as soon as the create is done (PROTOCOL.md "start").
  const bool start = first && first->start_at_once();
  AgentClient::Outcome network_sent, create_sent, start_sent;
  vm.before_hello = [&](AgentClient& agent) {
    // Before anything is sent: the exit may be read with the hello.
    if (start) first->hold_early_exit(agent);
    if (guest_network) network_sent = agent.send(proto::ConfigureNetwork{0, *guest_network});
    if (create) create_sent = agent.send(std::move(*create));
    if (start) start_sent = agent.send(proto::Start{0, first_});
  };
  vm_ = RUNVM_TRY(MicroVm::boot(vm));
  // Which kernel and agent answered, and how fast: the proof, in the log,
  // that this container runs in its own VM (the compat suites check it).
  log::info("VM up in " + std::to_string(static_cast<long>(vm_->boot_to_agent_ms())) +
            " ms: guest kernel " + proto::printable(vm_->hello().kernel, 64) + ", agent " +
            proto::printable(vm_->hello().agent, 64));
  // Blocking: the loop does not run yet.
  if (guest_network) {
    RUNVM_CHECK(vm_->agent().await(network_sent).status.context("guest network"));
    timeline::mark("network_configured");
  }
  if (first) {
    RUNVM_CHECK(first->create(*vm_, create_sent));
    timeline::mark("container_created");
    if (start) RUNVM_CHECK(first->await_start(start_sent));
    containers_.emplace(first_, std::move(first));
  }
  control_ = RUNVM_TRY(
      ControlServer::listen(*loop_, control_path(), [this](control::Addressed req, UniqueFd conn) {
        on_request(std::move(req), std::move(conn));
      }));
  return {};
}

void Sandbox::on_request(control::Addressed req, UniqueFd conn) {
  if (auto* create = std::get_if<control::Create>(&req.request))
    return add_member(req.container_id, std::move(*create), std::move(conn));
  auto it = containers_.find(req.container_id);
  if (it == containers_.end()) {
    // Also a valid answer to an exec: an ExecReply without a code.
    (void)proto::write_frame(
        conn.get(), control::encode(control::Reply{make_error(
                        "container \"" + req.container_id + "\" is not in this shim", ENOENT)}));
    return;
  }
  it->second->handle(std::move(req.request), std::move(conn));
}

void Sandbox::on_signal(int signal_fd) {
  signalfd_siginfo si;
  if (read(signal_fd, &si, sizeof si) != sizeof si) return;
  // A pool unit's pid stands for no container: `runvm pool drain` (or a
  // kill) ends the unit, and with it a member it may have.
  if (opts_.pool) {
    if (si.ssi_signo != SIGWINCH) end(static_cast<int>(si.ssi_signo), true);
    return;
  }
  if (auto it = containers_.find(first_); it != containers_.end())
    it->second->forward_signal(static_cast<int>(si.ssi_signo));
}

void Sandbox::end(int wait_status, bool drain) {
  if (ending_) return;
  ending_ = Ending{wait_status, drain};
  loop_->stop();
}

Result<int> Sandbox::serve(int signal_fd) {
  AgentClient& agent = vm_->agent();
  RUNVM_CHECK(agent.attach(*loop_, [this](const Error& e) {
    if (e.code == ECHILD) {
      log::error("VM exited unexpectedly: " + vm_->console_tail(3));
      (void)vm_->wait();
    } else {
      log::error("agent: " + e.message);
    }
    end(SIGKILL, false);  // the guest side is gone: the process with it
  }));
  for (auto& [id, c] : containers_) {
    bool first = id == first_;
    RUNVM_CHECK(c->activate(*loop_, [this, first, id = id](int status) {
      if (first) return end(status, true);
    }));
  }
  if (signal_fd >= 0)
    RUNVM_CHECK(
        loop_->add(signal_fd, EPOLLIN, [this, signal_fd](uint32_t) { on_signal(signal_fd); }));
  Status ran = loop_->run();
  if (signal_fd >= 0) loop_->remove(signal_fd);
  agent.detach();  // the rest is blocking calls
  if (!ran.ok()) {
    log::error("event loop: " + ran.error().message);
    end(SIGKILL, true);
  }
  for (auto& [id, c] : containers_) c->finish(ending_->drain);
  timeline::mark("output_drained");
  // The members' processes went with the first's (as runc's: the sandbox's
  // end kills its pod); their relays exit as killed. Members still running
  // were never reaped, so the agent never synced after their last writes
  // through shared mappings: the VM stops with a guest sync then
  // (PROTOCOL.md, rule 5), not killed at once.
  const bool members_run = !members_.empty();
  end_members(SIGKILL);
  auto r = vm_->shutdown(members_run);
  if (!r.ok()) log::debug("VM shutdown: " + r.error().message);
  return ending_->wait_status;
}

}  // namespace runvm
