#include "shim/container/container_shim.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "guest/protocol/constants.h"
#include "guest/protocol/frame.h"
#include "guest/protocol/stdio_kind.h"
#include "shim/container/agent_request.h"
#include "shim/container/bind_shares.h"
#include "shim/fs/stdio_fs.h"
#include "spec/base/atomic_file.h"
#include "spec/base/log.h"
#include "spec/base/state_layout.h"
#include "spec/base/timeline.h"
#include "spec/cgroup/cgroup.h"
#include "spec/pinned_path.h"
#include "spec/vm_sizing.h"

namespace runvm {

namespace {

// How long draining output after the process exited may make no progress.
constexpr int kDrainMs = 5000;
constexpr int kDrainMaxMs = 300000;
// How often a console's window size is checked: its owner resizes the
// master, and the slave side gets no SIGWINCH unless it is our controlling
// terminal.
constexpr std::chrono::milliseconds kConsolePoll{200};

void log_failure(const std::string& what, const AgentClient::Reply& r) {
  if (!r.status.ok()) log::debug(what + ": " + r.status.error().message);
}

}  // namespace

Result<std::unique_ptr<ContainerShim>> ContainerShim::prepare(ContainerOptions options,
                                                              size_t index, MicroVmConfig& vm) {
  std::unique_ptr<ContainerShim> c(new ContainerShim(std::move(options)));
  const auto& config = c->opts_.bundle.config;
  if (!config.process) return make_error("config.json: process: is required");
  c->stdio_ =
      RUNVM_TRY(plan_container_stdio(index, config.process->terminal, c->opts_.stdio_pipes, vm));
  // Each container's root is a share of its own. A read-only root is sealed
  // once the agent made its mountpoints in it.
  c->rootfs_tag_ = index == 0 ? std::string(kRootfsTag) : kRootfsTag + std::to_string(index);
  // Resolved where load_bundle checked it; opened with no symlink followed
  // and served by that descriptor, so a rootfs swapped for a symlink (to /)
  // since then is refused, never shared.
  const std::string& rootfs = c->opts_.bundle.rootfs_real;
  auto rootfs_fd = oci::open_no_symlinks(rootfs);
  if (!rootfs_fd.ok())
    return make_error(
        "config.json: root.path: " + c->opts_.bundle.rootfs + ": " + rootfs_fd.error().message,
        rootfs_fd.error().code);
  FsConfig root_fs{rootfs, CachePolicy::kExclusive, false};
  // Xattrs served whatever the tree holds (xattrs_if_present off): with it,
  // an image without any costs no GETXATTR security.capability per file
  // written, but `setcap` in the container (a build step's) then fails with
  // EOPNOTSUPP where runc's succeeds, and it bought no wall time on a quiet
  // host (bench/fs.sh ours_exclusive vs ours_exclusive_xattr).
  root_fs.dir_fd = std::make_shared<UniqueFd>(std::move(*rootfs_fd));
  vm.shares.push_back({c->rootfs_tag_, std::move(root_fs)});
  auto mount_plan = RUNVM_TRY(plan_mounts(config.mounts).context("config.json"));
  for (auto& share : mount_plan.shares) vm.shares.push_back(std::move(share));
  // As runc's fixStdioPermissions, which chowns the very fd it hands over:
  // the process's user owns its stdio (uid only; refusals are ignored).
  const auto& files = c->stdio_.files;
  for (int fd : files)
    if (fd >= 0) (void)fchown(fd, config.process->user.uid, static_cast<gid_t>(-1));
  if (files != std::array<int, 3>{-1, -1, -1}) {
    // The shim's own stdio files: only the first container's are its.
    if (index != 0) return make_error("only the first container's stdio may be regular files");
    vm.shares.push_back({proto::kStdioShareTag, {}, std::make_shared<StdioFs>(files)});
  }
  return c;
}

Result<std::unique_ptr<ContainerShim>> ContainerShim::prepare_member(
    ContainerOptions options, const proto::StdioPorts& stdio, std::string share_tag,
    std::vector<proto::Mount> mounts) {
  std::unique_ptr<ContainerShim> c(new ContainerShim(std::move(options)));
  const auto& config = c->opts_.bundle.config;
  if (!config.process) return make_error("config.json: process: is required");
  c->member_mounts_ = std::move(mounts);
  c->stdio_.ports = stdio;
  c->rootfs_tag_ = std::move(share_tag);
  c->rootfs_path_ = c->opts_.id;
  return c;
}

ContainerShim::~ContainerShim() {
  if (in_) in_->detach();  // may sit in read(2) on a terminal forever
  execs_.reset();          // tells waiting `runvm exec`s
}

Result<proto::Create> ContainerShim::create_request() const {
  const auto& config = opts_.bundle.config;
  auto req = RUNVM_TRY(make_create_request(opts_.id, config, stdio_.ports).context("config.json"));
  req.rootfs.tag = rootfs_tag_;
  if (!config.process->terminal) req.process.console_size = proto::tty_stream_size(stdio_.ports);
  // Only the first container's is built here, and the VM ends with it
  // (Sandbox::serve): the agent kills the rest of its processes at its exit.
  req.ends_vm = true;
  return req;
}

Status ContainerShim::create(MicroVm& vm, const AgentClient::Outcome& sent) {
  vm_ = &vm;
  const auto& config = opts_.bundle.config;
  bool terminal = config.process->terminal;
  if (opts_.start_at_once) hold_early_exit(vm.agent());
  // Blocking: the sandbox's loop does not run yet, and nothing else waits.
  RUNVM_CHECK(vm.agent().await(sent).status.context("unable to start container process"));
  if (config.root.readonly) RUNVM_CHECK(vm.seal_share_readonly(rootfs_tag_));

  // Relay our own stdio, or for a terminal the console whose master the
  // caller gets. Blocking copies on threads: the inherited fds are shared
  // with the caller's other processes, and making them non-blocking for an
  // event loop would change their file description for all of them.
  int tty_in = STDIN_FILENO, tty_out = STDOUT_FILENO;
  if (terminal) {
    if (opts_.console_socket.empty()) return make_error("terminal: a console socket is required");
    std::optional<winsize> size;
    if (config.process->console_size)
      size = winsize{static_cast<unsigned short>(config.process->console_size->height),
                     static_cast<unsigned short>(config.process->console_size->width), 0, 0};
    console_ = RUNVM_TRY(Console::open_and_send(opts_.console_socket, size));
    tty_in = tty_out = console_->slave();
  }
  auto& host = stdio_.host;
  if (host[0]) in_ = std::make_unique<StdioPump>(tty_in, std::move(host[0]));
  if (host[1]) out_ = std::make_unique<StdioPump>(std::move(host[1]), tty_out);
  if (host[2]) err_ = std::make_unique<StdioPump>(std::move(host[2]), STDERR_FILENO);
  write_status("created");
  return {};
}

void ContainerShim::hold_early_exit(AgentClient& agent) {
  agent.set_exit_handlers(opts_.id, {[this](const proto::Exit& e) { on_exit(e); },
                                     {},
                                     [this](const proto::Oom& o) { record_oom(o.oom_kills); }});
}

Status ContainerShim::await_start(const AgentClient::Outcome& sent) {
  starting_ = true;
  auto r = vm_->agent().await(sent);
  starting_ = false;
  RUNVM_CHECK(std::move(r.status));
  timeline::mark("started");
  started_ = true;
  if (!exited_) write_status("running");
  return {};
}

void ContainerShim::create_member(MicroVm& vm, EventLoop& loop, std::function<void(int)> ended,
                                  std::function<void(Status)> done) {
  vm_ = &vm;
  const auto& config = opts_.bundle.config;
  auto req = make_create_request(opts_.id, config, stdio_.ports);
  if (!req.ok()) return done(std::move(req).error().wrap("config.json"));
  req->rootfs.tag = rootfs_tag_;
  req->rootfs.path = rootfs_path_;
  // A running VM gets no new device: the binds come through the pod share.
  req->linux_spec.mounts = member_mounts_;
  // The first container is in the agent's PID namespace; a member that asks
  // for a new one gets it (one joining any, the sandbox's, shares that).
  req->linux_spec.new_pid_ns = wants_own_pid_namespace(config);
  // A terminal's size is the config's, then the relay's resizes.
  if (!config.process->terminal) req->process.console_size = proto::tty_stream_size(stdio_.ports);
  std::weak_ptr<bool> alive = alive_;
  const bool start = opts_.start_at_once;
  // Started at once (a claiming `runvm run`): `done` waits for the start,
  // pipelined behind the create (the agent holds it until the create is
  // done, PROTOCOL.md "start"); a failed create answers alone. An exit the
  // agent reports before the start's reply is held until `done` ran: the
  // relay reads its Reply before its ExecExit.
  struct Pending {
    std::function<void(Status)> done;
    std::function<void(int)> ended;
    bool answered = false;
    std::optional<int> held_exit;
  };
  auto p = std::make_shared<Pending>(Pending{std::move(done), std::move(ended)});
  vm.agent().create(std::move(*req), [this, alive, &loop, start, p](AgentClient::Reply r) {
    Status s = std::move(r.status).context("unable to start container process");
    if (s.ok() && !alive.expired()) {
      write_status("created");
      s = activate(loop, [p](int status) {
        if (p->answered)
          p->ended(status);
        else
          p->held_exit = status;
      });
    }
    if (start && s.ok()) return;  // the start's reply answers
    p->answered = true;
    p->done(std::move(s));  // last: it may destroy this container
  });
  if (!start) return;
  starting_ = true;
  timeline::mark("start_requested");
  vm.agent().start(opts_.id, [this, alive, p](AgentClient::Reply r) {
    if (p->answered) return;  // answered, and refused, with the create
    Status s = std::move(r.status);
    if (!alive.expired()) {
      starting_ = false;
      if (s.ok()) {
        timeline::mark("started");
        started_ = true;
        if (!exited_) write_status("running");
      }
    }
    p->answered = true;
    bool ok = s.ok();
    p->done(std::move(s));  // may destroy this container: nothing of it after
    if (ok && p->held_exit) p->ended(*p->held_exit);
  });
}

void ContainerShim::end_member() {
  write_status("stopped");
  member_ended_ = true;
  console_timer_.reset();
  if (execs_) execs_->end_all(SIGKILL);
  // As a container's end in runc: the rest of its processes go too.
  vm_->agent().signal(opts_.id, "", SIGKILL, true,
                      [](AgentClient::Reply r) { log_failure("killing a member's processes", r); });
}

Status ContainerShim::activate(EventLoop& loop, std::function<void(int)> ended) {
  loop_ = &loop;
  ended_ = std::move(ended);
  AgentClient& agent = vm_->agent();
  execs_ = std::make_unique<ExecSessions>(loop, agent, opts_.id);
  agent.set_exit_handlers(opts_.id, {[this](const proto::Exit& e) { on_exit(e); },
                                     [this](const proto::ExecExit& e) { execs_->on_exit(e); },
                                     [this](const proto::Oom& o) { record_oom(o.oom_kills); }});
  if (early_exit_) {
    // Ended before the loop ran (started at once): told on the loop.
    auto told = loop.add_timer(std::chrono::milliseconds(0), [this, status = *early_exit_] {
      if (ended_) ended_(status);
    });
    if (!told.ok()) return std::move(told).error();
  }
  if (console_) {
    console_timer_ = std::make_unique<Timer>(loop, [this] { check_console_size(); });
    console_timer_->arm(kConsolePoll, kConsolePoll);
    check_console_size();
  }
  return {};
}

void ContainerShim::on_exit(const proto::Exit& exit) {
  if (std::exchange(exited_, true)) return;
  timeline::mark("process_exited");
  if (exit.oom_kills) record_oom(exit.oom_kills);
  if (console_timer_) console_timer_->disarm();
  if (ended_)
    ended_(static_cast<int>(exit.status));
  else
    early_exit_ = static_cast<int>(exit.status);
}

void ContainerShim::record_oom(uint64_t kills) {
  // A count, not an increment: the live `oom` events and the exit's carry
  // the same cgroup counter, so the second telling of a kill is no news.
  if (kills <= oom_kills_) return;
  // A member that ended may have its state dir and bundle taken by a new
  // container of the same id already (delete returns before a pool unit's
  // VM ends): a late event is no news of that one.
  if (member_ended_) return;
  oom_kills_ = kills;
  log::info("container " + opts_.id + ": " + std::to_string(kills) +
            " process(es) OOM-killed in the guest so far");
  auto s = write_file_atomic(opts_.state_dir + "/" + layout::kOomKillsFile, std::to_string(kills),
                             /*durable=*/false);
  if (!s.ok()) log::warn("recording the OOM kill: " + s.error().message);
  // <bundle>/oom is where conmon records an OOM kill it saw in the
  // container's cgroup; Podman and CRI-O read it for OOMKilled. The host
  // cgroup never sees this one (the guest's kernel killed), so the shim
  // leaves the same mark.
  UniqueFd fd(::open((opts_.bundle.dir + "/oom").c_str(),
                     O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) log::warn("recording the OOM kill in " + opts_.bundle.dir + ": " + strerror(errno));
}

void ContainerShim::check_console_size() {
  if (auto size = console_->size_change())
    vm_->agent().resize(opts_.id, "", size->ws_row, size->ws_col,
                        [](AgentClient::Reply r) { log_failure("resize", r); });
}

void ContainerShim::forward_signal(int sig) {
  vm_->agent().signal(opts_.id, "", sig, false,
                      [](AgentClient::Reply r) { log_failure("forward signal", r); });
}

void ContainerShim::handle(control::Request request, UniqueFd conn) {
  if (auto* exec = std::get_if<control::Exec>(&request)) {
    // An exec keeps its connection: the exit is reported on it.
    execs_->open(std::move(conn), std::move(*exec));
    return;
  }
  // The answer goes out whenever the agent's reply arrives; a client that
  // left meanwhile is not missed.
  auto shared = std::make_shared<UniqueFd>(std::move(conn));
  if (std::holds_alternative<control::Stats>(request)) return stats(shared);
  Respond respond = [shared](Status s) {
    (void)proto::write_frame(shared->get(), control::encode(control::Reply{std::move(s)}));
  };
  std::visit(
      [&]<class M>(const M& m) {
        if constexpr (std::is_same_v<M, control::Create>)
          respond(make_error("container \"" + opts_.id + "\" already exists", EEXIST));
        else if constexpr (!std::is_same_v<M, control::Exec> && !std::is_same_v<M, control::Stats>)
          on(m, respond);
      },
      request);
}

void ContainerShim::stats(std::shared_ptr<UniqueFd> conn) {
  proto::StatsRequest req{0, opts_.id};
  vm_->agent().request(std::move(req), [conn](AgentClient::Reply r) {
    control::StatsReply reply{std::move(r.status), {}};
    if (reply.status.ok() && r.stats) reply.stats = std::move(*r.stats);
    reply.stats.id = 0;  // the agent's request id means nothing to the client
    (void)proto::write_frame(conn->get(), control::encode(reply));
  });
}

void ContainerShim::write_status(const char* status) {
  // Not durable: it is rewritten on every change and a host crash ends the
  // container anyway. No change after the first needs new space
  // (status_file.h), so a full state directory does not leave `runvm state`
  // reporting an old status; a failure all the same is logged.
  if (auto s = status_file_.write(status); !s.ok())
    log::warn("container " + opts_.id + ": " + s.error().message);
}

void ContainerShim::on(const control::Start&, Respond respond) {
  if (started_ || starting_) return respond(make_error("container already started"));
  starting_ = true;
  timeline::mark("start_requested");
  // The size the console's owner set by now is the one the process starts
  // with: the agent handles the resize first.
  if (console_) check_console_size();
  std::weak_ptr<bool> alive = alive_;
  vm_->agent().start(opts_.id, [this, alive, respond](AgentClient::Reply r) {
    if (alive.expired()) return respond(std::move(r.status));
    starting_ = false;
    if (r.status.ok()) timeline::mark("started");
    if (r.status.ok() && !exited_) {
      started_ = true;
      write_status("running");
    }
    respond(std::move(r.status));
  });
}

void ContainerShim::on(const control::Kill& k, Respond respond) {
  vm_->agent().signal(opts_.id, "", k.signal, k.all,
                      [respond](AgentClient::Reply r) { respond(std::move(r.status)); });
}

void ContainerShim::on(const control::Pause&, Respond respond) {
  // A member: the guest's freezer for its cgroup alone, as runc freezes a
  // container's cgroup even when it shares a PID namespace; the VM's vCPUs
  // are the whole pod's.
  if (!rootfs_path_.empty()) return freeze_member(true, std::move(respond));
  // The whole VM's vCPUs: a QMP exchange with our own QEMU, not the guest;
  // after the members' freezes in flight, which the agent must answer.
  std::weak_ptr<bool> alive = alive_;
  vm_->pause_when_idle([this, alive, respond](Status s) {
    if (s.ok() && !alive.expired()) write_status("paused");
    respond(std::move(s));
  });
}

void ContainerShim::on(const control::Resume&, Respond respond) {
  if (!rootfs_path_.empty()) return freeze_member(false, std::move(respond));
  Status s = vm_->resume();
  if (s.ok()) write_status(started_ ? "running" : "created");
  respond(std::move(s));
}

void ContainerShim::freeze_member(bool frozen, Respond respond) {
  std::weak_ptr<bool> alive = alive_;
  auto send = [this, alive, frozen, id = opts_.id](std::function<void(Status)> done) {
    vm_->begin_vcpu_request();
    proto::HostMessage req = frozen ? proto::HostMessage(proto::Freeze{0, id}) : proto::Thaw{0, id};
    // vm_ outlives every agent callback (the agent client is the VM's).
    MicroVm* vm = vm_;
    vm_->agent().request(std::move(req), [vm, done](AgentClient::Reply r) {
      vm->end_vcpu_request();
      done(std::move(r.status));
    });
  };
  const char* status = frozen ? "paused" : started_ ? "running" : "created";
  if (!vm_->paused()) {
    return send([this, alive, status, respond](Status s) {
      if (s.ok() && !alive.expired() && !exited_) write_status(status);
      respond(std::move(s));
    });
  }
  // The sandbox is paused (`podman pod pause` pauses the infra and the
  // members in any order): no process of the VM runs. Answered now, as
  // waiting would block the caller until the sandbox resumes; sent right
  // after it does, so the member runs only until the agent froze it.
  write_status(status);
  respond({});
  vm_->when_running([this, alive, send, id = opts_.id] {
    if (alive.expired()) return;
    send([this, alive, id](Status s) {
      if (s.ok()) return;
      log::warn("pod member " + id + ": " + s.error().message);
      if (!alive.expired() && !exited_) write_status(started_ ? "running" : "created");
    });
  });
}

void ContainerShim::on(const control::Resize& r, Respond respond) {
  vm_->agent().resize(opts_.id, "", r.rows, r.cols,
                      [respond](AgentClient::Reply reply) { respond(std::move(reply.status)); });
}

void ContainerShim::on(const control::UpdateMemory& u, Respond respond) {
  constexpr uint64_t kMiB = 1ull << 20;
  const uint64_t boot = vm_->machine().memory_mib * kMiB;
  // A member shares the pod's VM, whose RAM is not the member's to change:
  // only its cgroup in the guest follows (Kubernetes' in-place resize of one
  // container of a pod), capped by the agent under the VM's RAM.
  if (!rootfs_path_.empty()) {
    proto::UpdateMemory req{0, opts_.id, u.limit, boot};
    return vm_->agent().request(
        std::move(req), [respond](AgentClient::Reply reply) { respond(std::move(reply.status)); });
  }
  // The guest's RAM follows the limit as at boot (spec/vm_sizing.h: whole
  // MiB, at least 64), up to the boot size: the balloon can only give back
  // what QEMU's -m reserved.
  uint64_t ram = oci::guest_mib_for_limit(u.limit) * kMiB;
  if (ram > boot)
    return respond(make_error("memory.limit: " + std::to_string(u.limit) +
                                  " is more than the VM's boot size " + std::to_string(boot) +
                                  " (the maximum)",
                              EINVAL));
  if (auto s = vm_->engine().set_memory(ram); !s.ok()) return respond(std::move(s));
  proto::UpdateMemory req{0, opts_.id, u.limit, ram};
  vm_->agent().request(std::move(req),
                       [respond](AgentClient::Reply reply) { respond(std::move(reply.status)); });
}

void ContainerShim::on(const control::UpdateResources& u, Respond respond) {
  if (!u.cpus.empty()) {
    // The vCPU threads are the whole pod's, not a member's.
    if (!rootfs_path_.empty())
      return respond(make_error("cpu.cpus: cannot change for a pod member", ENOTSUP));
    if (auto s = vm_->engine().set_cpuset(u.cpus); !s.ok())
      return respond(std::move(s).error().wrap("cpu.cpus"));
  }
  proto::UpdateResources req{0, opts_.id, u.cpu_quota, u.cpu_period, std::nullopt, u.pids_limit};
  if (u.cpu_shares) req.cpu_weight = cgroup::cpu_weight_of_shares(*u.cpu_shares);
  if (!req.cpu_quota && !req.cpu_period && !req.cpu_weight && !req.pids_limit) return respond({});
  vm_->agent().request(std::move(req),
                       [respond](AgentClient::Reply reply) { respond(std::move(reply.status)); });
}

void ContainerShim::finish(bool drain) {
  // A member that ended said so then: its state dir may be gone by now
  // (a claimed unit's container is deleted while its VM still shuts down),
  // and nothing may appear in it again.
  if (!member_ended_) write_status("stopped");
  console_timer_.reset();
  if (vm_) vm_->agent().remove_exit_handlers(opts_.id);
  // The container's end takes every other process in it along, as in runc
  // (its PID namespace dies with its init): what they wrote is delivered,
  // and nothing holds the stdio open any longer.
  if (execs_) execs_->end_all(SIGKILL);
  // The VM's first container's exit came after the agent killed the rest
  // of its processes (its create's ends_vm): no round trip for that.
  const bool agent_killed_rest = exited_ && rootfs_path_.empty();
  if (drain && vm_ && !agent_killed_rest) {
    proto::Signal kill_all{0, opts_.id, SIGKILL, true};
    log_failure("killing the container's other processes", vm_->agent().call_sync(kill_all));
  }
  // Output written before the exit is queued towards us: deliver all of it
  // however slowly our reader takes it, but give up on a reader that takes
  // nothing for kDrainMs, and on any after kDrainMaxMs (`delete` waits for
  // us that long: runvm-delete(8)).
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDrainMaxMs);
  auto drained = [until](StdioPump* pump) {
    for (uint64_t seen = pump->bytes();; seen = pump->bytes()) {
      if (pump->wait_for(kDrainMs)) return true;
      if (pump->bytes() == seen || std::chrono::steady_clock::now() >= until) return false;
    }
  };
  if (drain && out_ && !drained(out_.get())) log::debug("stdout did not drain");
  if (drain && err_ && !drained(err_.get())) log::debug("stderr did not drain");
}

}  // namespace runvm
