// Pod members (issue 12): containers added to a running pod sandbox's VM by
// a Create on the control socket (shim/client/CONTROL.md). A member's rootfs
// reaches the guest through the VM's existing "pod" share: it is bound at
// <pod dir>/<id> here and the agent binds that directory as the member's
// root. Nothing resolves outside it: the share's backend never leaves its
// directory, and the agent takes one name from its top. The bind goes when
// the member ends (or the sandbox does), and the member's relay, which holds
// the Create connection, gets the exit status there.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/protocol/frame.h"
#include "shim/container/agent_request.h"
#include "shim/container/sandbox.h"
#include "shim/net/container_network.h"
#include "spec/base/log.h"
#include "spec/base/timeline.h"
#include "spec/pinned_path.h"

namespace runvm {

namespace {

void refuse(int conn, Error e) {
  (void)proto::write_frame(conn, control::encode(control::Reply{std::move(e)}));
}

}  // namespace

void Sandbox::add_member(const std::string& id, control::Create req, UniqueFd conn) {
  if (pod_dir_.empty())
    return refuse(conn.get(), make_error("the VM of \"" + first_ +
                                         "\" takes no members: not created as a pod sandbox"));
  if (ending_) return refuse(conn.get(), make_error("the pod sandbox is stopping"));
  // A pool unit serves the one container that claimed it (runvm-pool(8)).
  if (opts_.pool && claimed_)
    return refuse(conn.get(), make_error("the pool unit is claimed already", EBUSY));
  if (opts_.pool) claimed_ = true;
  if (opts_.pool) timeline::mark("claim_received");
  // A pool unit whose claim fails here ends (as one whose create the agent
  // refused does, member_created): its tap may be in the claimer's
  // namespace already, and its control thread is not confined yet. It does
  // not wait for the claiming CLI to remove it: that CLI may be gone.
  auto fail = [this](int fd, Error e) {
    refuse(fd, std::move(e));
    if (opts_.pool) end(SIGKILL, true);
  };
  if (auto it = containers_.find(id); it != containers_.end()) {
    // A member that ended may be created again under its id.
    if (id == first_ || members_.count(id))
      return fail(conn.get(), make_error("container \"" + id + "\" already exists", EEXIST));
    vm_->agent().remove_exit_handlers(id);
    containers_.erase(it);
  }
  auto bundle = oci::load_bundle(req.bundle);
  if (!bundle.ok()) return fail(conn.get(), std::move(bundle).error());
  if (opts_.pool && pool_nic_) {
    // The claimer's network namespace takes the unit's tap (pool_nic.h).
    auto net = net::claim_container_network(bundle->config, *pool_nic_);
    if (!net.ok()) return fail(conn.get(), std::move(net).error());
    network_ = std::move(*net);
    if (network_) pool_nic_.reset();  // its tap is network_'s now
    timeline::mark("tap_adopted");
  }
  auto member = std::make_unique<Member>();
  member->conn = std::move(conn);
  // By descriptor, and unbound through it (member_root.h): the pod dir is
  // the guest's to write in.
  auto root = MemberRoot::bind(pod_dir_, id, bundle->rootfs_real, bundle->rootfs);
  if (!root.ok()) return fail(member->conn.get(), std::move(root).error());
  member->root = std::move(*root);
  std::vector<proto::Mount> mounts;
  auto binds = MemberBinds::bind(pod_dir_, id, kPodShareTag, bundle->config.mounts, mounts);
  if (!binds.ok()) {
    member->root.release();
    return fail(member->conn.get(), std::move(binds).error().wrap("config.json"));
  }
  member->binds = std::move(*binds);
  auto c =
      ContainerShim::prepare_member({id, req.state_dir, std::move(*bundle), "", false, req.start},
                                    req.stdio, kPodShareTag, std::move(mounts));
  if (!c.ok()) {
    member->binds.release();
    member->root.release();
    return fail(member->conn.get(), std::move(c).error());
  }
  containers_.emplace(id, std::move(*c));
  members_.emplace(id, std::move(member));
  log::info("pod member " + id + ": creating");
  if (opts_.pool) return claim_and_create(id);
  create_member_process(id);
}

void Sandbox::claim_and_create(const std::string& id) {
  // Set-up done, as a cold start's is when it confines (docs/security.md
  // "shim"): the rootfs and binds are in the share, the tap is in the
  // container's namespace. The container's code runs only after this.
  Status confined = confine::confine_thread(confine::Role::kControl, control_needs());
  if (!confined.ok()) return member_created(id, std::move(confined));
  timeline::mark("confined");
  if (!network_) return create_member_process(id);
  // Before the create, as a cold start's network goes before its first
  // create: the process expects its network at start.
  vm_->agent().request(proto::ConfigureNetwork{0, network_->network()},
                       [this, id](AgentClient::Reply r) {
                         if (!r.status.ok())
                           return member_created(id, std::move(r.status).context("guest network"));
                         timeline::mark("network_configured");
                         create_member_process(id);
                       });
}

void Sandbox::create_member_process(const std::string& id) {
  auto c = containers_.find(id);
  if (c == containers_.end() || !members_.count(id)) return;
  c->second->create_member(
      *vm_, *loop_, [this, id](int status) { member_ended(id, status); },
      [this, id](Status s) { member_created(id, std::move(s)); });
}

void Sandbox::member_created(const std::string& id, Status s) {
  auto it = members_.find(id);
  if (it == members_.end()) return;
  Member& m = *it->second;
  // A read-only root is sealed on the host too once the agent made its
  // mountpoints in it, as the first container's share is (seal_share_readonly).
  if (auto c = containers_.find(id); s.ok() && c != containers_.end() && c->second->readonly_root())
    s = m.root.seal_readonly();
  if (!s.ok()) {
    // Refused (by the agent, or after it created it: the host-side seal
    // failed): its process goes, and nothing calls back into the container
    // erased here. Undone before the reply, so that a caller that reads the
    // refusal finds no bind left in the pod share.
    vm_->agent().remove_exit_handlers(id);
    vm_->agent().signal(id, "", SIGKILL, true, [](AgentClient::Reply) {});
    UniqueFd conn = std::move(m.conn);
    m.binds.release();
    m.root.release();
    members_.erase(it);
    containers_.erase(id);
    (void)proto::write_frame(conn.get(), control::encode(control::Reply{std::move(s)}));
    // A pool unit is its container's only: it is not returned to the pool.
    if (opts_.pool) end(SIGKILL, true);
    return;
  }
  auto sent = proto::write_frame(m.conn.get(), control::encode(control::Reply{std::move(s)}));
  if (sent.ok())
    sent = loop_->add(m.conn.get(), EPOLLIN, [this, id](uint32_t) { member_readable(id); });
  if (sent.ok()) return;
  // Its relay is gone already: the member's pid is gone, so is it.
  log::debug("pod member " + id + ": relay left before the reply");
  vm_->agent().signal(id, "", SIGKILL, true, [](AgentClient::Reply) {});
  // its exit ends it
}

void Sandbox::member_readable(const std::string& id) {
  auto it = members_.find(id);
  if (it == members_.end()) return;
  Member& m = *it->second;
  char buf[4096];
  ssize_t n = read(m.conn.get(), buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
  Status fed = n > 0 ? m.decoder.feed(std::string_view(buf, static_cast<size_t>(n)))
                     : Status(make_error("relay left"));
  while (fed.ok()) {
    auto frame = m.decoder.next();
    if (!frame.ok()) fed = std::move(frame).error();
    if (!fed.ok() || !*frame) break;
    auto req = control::parse_exec_follow_up(**frame);
    if (!req.ok()) {
      log::debug("pod member " + id + ": " + req.error().message);
      continue;
    }
    auto log_failure = [id](AgentClient::Reply r) {
      if (!r.status.ok()) log::debug("pod member " + id + ": " + r.status.error().message);
    };
    if (auto* k = std::get_if<control::Kill>(&*req))
      vm_->agent().signal(id, "", k->signal, k->all, log_failure);
    else if (auto* r = std::get_if<control::Resize>(&*req))
      vm_->agent().resize(id, "", r->rows, r->cols, log_failure);
  }
  if (fed.ok()) return;
  // The relay stands for the member's process: without it, the member goes
  // (as a runc container whose init was killed).
  log::debug("pod member " + id + ": " + fed.error().message + ": killing it");
  loop_->remove(m.conn.get());
  m.conn.reset();
  vm_->agent().signal(id, "", SIGKILL, true, [](AgentClient::Reply) {});
}

void Sandbox::member_ended(const std::string& id, int wait_status) {
  log::info("pod member " + id + " exited");
  if (auto c = containers_.find(id); c != containers_.end()) c->second->end_member();
  auto it = members_.find(id);
  if (it == members_.end()) return;
  Member& m = *it->second;
  timeline::mark("member_ended");
  // A pool unit's tap and filters in the container's network namespace go
  // first (deleting the link detaches QEMU's copy of its fd too): `delete`
  // returns once the unit let go of the container, before its VM is gone.
  if (opts_.pool) network_.reset();
  // Unbound before the relay hears of the exit: once the member's pid is
  // gone, nothing of it is left on the host. The empty slots and mount
  // points the binds made in our pod dir go right after (before this loop
  // serves anything else, such as a create of the same id): their rmdirs
  // wait on the host filesystem's journal (1-17 ms here under load), and
  // the caller then waited for them.
  m.binds.unbind();
  m.root.unbind();
  timeline::mark("member_unbound");
  UniqueFd relay = std::move(m.conn);
  if (relay) {
    loop_->remove(relay.get());
    (void)proto::write_frame(relay.get(), control::encode(control::ExecExit{wait_status}));
  }
  m.binds.release();
  m.root.release();
  members_.erase(it);
  if (!opts_.pool) return;
  // A pool unit's VM was its container's: it goes with it, killed at once
  // (MicroVm::shutdown). end_member() killed the rest of its processes.
  // Its output goes through its relay, though still through our vsock
  // device, which may hold some the relay did not read yet: the VM goes
  // when the relay read its streams to EOF and left, which it does right
  // after this exit (so its caller waits no longer), or once the device
  // handed the host nothing for kRelayDrain and has no stream left that a
  // reader still reads (a reader that takes its output slowly keeps it),
  // and at the latest after kRelayDrainMax.
  if (!relay) return end(wait_status, false);
  int fd = relay.get();
  auto gone = [this, wait_status] { end(wait_status, false); };
  auto added = loop_->add(fd, EPOLLIN, [this, fd, gone](uint32_t) {
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      loop_->remove(fd);
      gone();
    }
  });
  if (!added.ok()) return end(wait_status, false);
  leaving_relay_ = std::move(relay);
  auto since = std::chrono::steady_clock::now();
  relay_drain_bytes_ = vm_->vsock_bytes_to_host();
  relay_drain_ = std::make_unique<Timer>(*loop_, [this, fd, gone, since] {
    uint64_t now_bytes = vm_->vsock_bytes_to_host();
    // Bytes went out, or a stream is still being read (the device gives
    // up on a reader that stopped reading: it resets the connection).
    bool progress = now_bytes != relay_drain_bytes_ || vm_->vsock_flushing_to_host() > 0;
    relay_drain_bytes_ = now_bytes;
    if (progress && std::chrono::steady_clock::now() - since < kRelayDrainMax) return;
    log::debug(progress ? "the pool member's relay still reads after " +
                              std::to_string(kRelayDrainMax.count()) + " ms: stopping the VM"
                        : "the pool member's relay did not leave: stopping the VM");
    relay_drain_->disarm();
    loop_->remove(fd);
    gone();
  });
  relay_drain_->arm(kRelayDrain, kRelayDrain);
}

void Sandbox::end_members(int wait_status) {
  for (auto& [id, m] : members_) {
    m->binds.release();
    m->root.release();
    if (m->conn)
      (void)proto::write_frame(m->conn.get(), control::encode(control::ExecExit{wait_status}));
  }
  members_.clear();
  if (!pod_dir_.empty()) {
    rmdir((pod_dir_ + "/" + kPodBindsDir).c_str());
    rmdir(pod_dir_.c_str());
  }
}

}  // namespace runvm
