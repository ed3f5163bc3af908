#include "guest/agent/agent.h"

#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <algorithm>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "guest/agent/cgroup_stats.h"
#include "guest/agent/network.h"
#include "guest/agent/trace.h"

namespace runvm::agent {
namespace {

// Error text goes back to the host, which logs it: keep it tame.
proto::ErrorReply error_reply(uint64_t id, const Error& e) {
  return proto::ErrorReply{id, proto::printable(e.message)};
}

proto::AgentMessage status_reply(uint64_t id, const Status& st) {
  if (!st.ok()) return error_reply(id, st.error());
  return proto::Ok{id};
}

// runc waits up to 10 s (fs2 freezer); a process stuck in the kernel (a
// virtio-fs request the host does not answer) keeps a cgroup from freezing.
constexpr std::chrono::milliseconds kFreezeTimeout{10000};
constexpr std::chrono::milliseconds kFreezePoll{10};

}  // namespace

Result<std::unique_ptr<Agent>> Agent::create(int control_fd, AgentConfig config) {
  auto loop = RUNVM_TRY(EventLoop::create());
  // Without inotify (a kernel built without it) OOM kills are still
  // reported with the container's exit, only not as they happen.
  UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  return std::unique_ptr<Agent>(
      new Agent(control_fd, std::move(config), std::move(loop), std::move(inotify)));
}

Status Agent::send_hello(const proto::Hello& hello) {
  return proto::write_frame(fd_, proto::to_json(hello)).context("sending hello");
}

Result<Agent::Outcome> Agent::serve() {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (pthread_sigmask(SIG_BLOCK, &chld, nullptr) != 0) return make_error("blocking SIGCHLD");
  UniqueFd sigfd(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) return errno_error("signalfd");

  outcome_.reset();
  RUNVM_CHECK(loop_->add(fd_, EPOLLIN, [this](uint32_t) { on_control_readable(); }));
  RUNVM_CHECK(loop_->add(sigfd.get(), EPOLLIN, [this, fd = sigfd.get()](uint32_t) {
    signalfd_siginfo info[8];
    while (::read(fd, info, sizeof info) > 0) {
    }
    reap_children();  // signals coalesce: reap whatever exited
  }));
  if (inotify_)
    RUNVM_CHECK(loop_->add(inotify_.get(), EPOLLIN, [this](uint32_t) { on_oom_watch(); }));
  reap_children();  // children that exited before the signalfd existed
  while (!outcome_) {
    auto st = loop_->run_once(-1);
    if (!st.ok()) finish(std::move(st).error());
    // Between events, never from a relay's or step's own callback: what
    // it reports may destroy it.
    if (!outcome_) send_pending();
    std::erase_if(draining_, [](const auto& r) { return r->finished(); });
  }
  loop_->remove(fd_);
  loop_->remove(sigfd.get());
  if (inotify_) loop_->remove(inotify_.get());
  return std::move(*outcome_);
}

void Agent::on_control_readable() {
  char buf[64 * 1024];
  ssize_t n;
  do {
    n = ::read(fd_, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return finish(errno_error("reading request"));
  if (n == 0) {
    if (decoder_.buffered() > 0) return finish(make_error("reading request: EOF inside a frame"));
    return finish(Outcome::kHostGone);
  }
  if (auto st = decoder_.feed(std::string_view(buf, static_cast<size_t>(n))); !st.ok())
    return finish(std::move(st).error().wrap("reading request"));
  for (;;) {
    auto frame = decoder_.next();
    if (!frame.ok()) return finish(std::move(frame).error().wrap("reading request"));
    if (!*frame) return;
    std::optional<std::string> reply;
    if (config_.extension) reply = config_.extension(**frame, config_.dial);
    bool shutdown = false;
    if (!reply) {
      Handled h = handle(**frame);
      if (h.reply) reply = proto::to_json(*h.reply);
      shutdown = h.shutdown;
    }
    if (!reply) continue;  // a step began: its reply comes when it finishes
    if (shutdown && config_.before_shutdown_ok) config_.before_shutdown_ok();
    if (auto st = proto::write_frame(fd_, *reply); !st.ok())
      return finish(std::move(st).error().wrap("sending reply"));
    if (shutdown) return finish(Outcome::kShutdown);
  }
}

void Agent::on_oom_watch() {
  // The events only say that some memory.events changed (the kernel
  // notifies on every counter): compare the counts of all.
  alignas(inotify_event) char buf[4096];
  while (::read(inotify_.get(), buf, sizeof buf) > 0) {
  }
  for (auto& [id, slot] : containers_) {
    uint64_t kills = slot.container->oom_kills();
    if (kills <= slot.ooms_sent) continue;
    slot.ooms_sent = kills;
    send(proto::Oom{id, kills}, "oom event");
  }
}

void Agent::reap_children() {
  // We are init: orphans land here too, abandoned set-ups among them. Only
  // main and exec'd processes are reported.
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    for (auto& [cid, slot] : containers_) {
      Container& c = *slot.container;
      if (pid == c.pid() && !c.exited()) c.on_reaped(status, joining_execs(slot));
      for (auto& [eid, e] : slot.execs)
        if (pid == e.process->pid() && !e.process->exited()) e.process->on_reaped(status);
    }
    for (auto& e : detached_execs_)
      if (pid == e->pid() && !e->exited()) e->on_reaped(status);
    std::erase_if(retiring_, [pid](const auto& c) { return c->pid() == pid; });
  }
}

void Agent::send(const proto::AgentMessage& m, std::string_view what) {
  if (outcome_) return;
  if (auto st = proto::write_frame(fd_, proto::to_json(m)); !st.ok())
    finish(std::move(st).error().wrap("sending " + std::string(what)));
}

namespace {

proto::AgentMessage step_reply(uint64_t id, const StepResult& result) {
  if (result.ok()) return proto::Ok{id};
  proto::ErrorReply e = error_reply(id, result.refusal->error);
  e.exit_code = result.refusal->exit_code;
  return e;
}

}  // namespace

void Agent::send_pending() {
  bool freezing = false;
  for (auto& [id, slot] : containers_) {
    check_freezing(slot);
    freezing = freezing || slot.freezing;
  }
  if (!freezing && freeze_poll_) freeze_poll_->disarm();
  for (auto cit = containers_.begin(); cit != containers_.end();) {
    ContainerSlot& slot = cit->second;
    Container& c = *slot.container;
    if (auto result = c.take_step_result()) {
      trace::mark(result->ok() ? "step_done" : "step_failed");
      if (slot.reply_to) send(step_reply(*slot.reply_to, *result), "reply");
      slot.reply_to.reset();
      if (c.state() == Container::State::kFailed) {
        // A start waiting for this create fails with it.
        if (auto start = std::exchange(slot.start_after_create, std::nullopt))
          send(step_reply(*start, *result), "reply");
        // A failed create: the id is free; no exec can have begun in it.
        if (!c.reaped()) retiring_.push_back(std::move(slot.container));
        cit = containers_.erase(cit);
        continue;
      }
      if (auto start = std::exchange(slot.start_after_create, std::nullopt)) {
        if (auto st = c.start(); st.ok())
          slot.reply_to = *start;
        else
          send(error_reply(*start, st.error()), "reply");
      }
    }
    for (auto it = slot.execs.begin(); it != slot.execs.end();) {
      ExecSlot& e = it->second;
      if (auto result = e.process->take_step_result()) {
        if (e.reply_to) send(step_reply(*e.reply_to, *result), "reply");
        e.reply_to.reset();
        if (!result->ok()) {
          it = slot.execs.erase(it);  // abandoned: reaped as an orphan
          continue;
        }
      }
      if (auto exit = e.process->take_exit()) {
        for (auto& r : e.process->release_relays()) draining_.push_back(std::move(r));
        it = slot.execs.erase(it);
        send(*exit, "exec exit");
        continue;
      }
      ++it;
    }
    if (auto exit = c.take_exit()) {
      trace::mark("exit_sent");
      send(*exit, "exit");
    }
    ++cit;
  }
  for (auto it = detached_execs_.begin(); it != detached_execs_.end();) {
    if (auto exit = (*it)->take_exit()) {
      for (auto& r : (*it)->release_relays()) draining_.push_back(std::move(r));
      it = detached_execs_.erase(it);
      send(*exit, "exec exit");
      continue;
    }
    ++it;
  }
}

Agent::Handled Agent::handle(std::string_view request) {
  auto parsed = proto::parse_host_message(request);
  if (!parsed.ok())
    return {error_reply(proto::salvage_id(request), parsed.error().wrap("bad request"))};
  return std::visit(
      [&](const auto& req) -> Handled {
        using T = std::decay_t<decltype(req)>;
        if constexpr (std::is_same_v<T, proto::Ping>) {
          return {proto::Pong{req.id}};
        } else if constexpr (std::is_same_v<T, proto::Shutdown>) {
          trace::mark("shutdown_received");
          return {proto::Ok{req.id}, true};
        } else if constexpr (std::is_same_v<T, proto::Create>) {
          trace::mark("create_received");
          return {create_container(req)};
        } else if constexpr (std::is_same_v<T, proto::Start>) {
          trace::mark("start_received");
          return {start_container(req)};
        } else if constexpr (std::is_same_v<T, proto::Signal>) {
          return {signal_container(req)};
        } else if constexpr (std::is_same_v<T, proto::Resize>) {
          return {resize_container(req)};
        } else if constexpr (std::is_same_v<T, proto::UpdateMemory>) {
          return {update_memory(req)};
        } else if constexpr (std::is_same_v<T, proto::UpdateResources>) {
          return {update_resources(req)};
        } else if constexpr (std::is_same_v<T, proto::StatsRequest>) {
          return {container_stats(req)};
        } else if constexpr (std::is_same_v<T, proto::Freeze>) {
          return {freeze_container(req)};
        } else if constexpr (std::is_same_v<T, proto::Thaw>) {
          return {thaw_container(req)};
        } else if constexpr (std::is_same_v<T, proto::Exec>) {
          return {exec_process(req)};
        } else if constexpr (std::is_same_v<T, proto::ConfigureNetwork>) {
          // The guest's own network: no container needed (PROTOCOL.md, Network).
          return {status_reply(req.id, configure_network(req.network))};
        } else {
          static_assert(sizeof(T) == 0, "unhandled host message");
        }
      },
      *parsed);
}

Result<Agent::ContainerSlot*> Agent::find(std::string_view container_id) {
  auto it = containers_.find(container_id);
  if (it == containers_.end())
    return make_error("container \"" + std::string(container_id) + "\" does not exist");
  return &it->second;
}

bool Agent::make_room() {
  for (auto it = containers_.begin(); it != containers_.end(); ++it) {
    const ContainerSlot& slot = it->second;
    if (slot.container->exited() && !slot.container->stepping() && !slot.reply_to &&
        !slot.freezing && slot.execs.empty() && slot.container->exit_taken()) {
      containers_.erase(it);
      return true;
    }
  }
  return false;
}

std::optional<proto::AgentMessage> Agent::create_container(const proto::Create& req) {
  if (auto it = containers_.find(req.container_id); it != containers_.end()) {
    ContainerSlot& old = it->second;
    if (!old.container->exited() || old.container->stepping() || old.freezing)
      return error_reply(req.id, make_error("container with id exists: " + req.container_id));
    // Replaced after its exit: exec'd processes it left run on, detached.
    for (auto& [eid, e] : old.execs) detached_execs_.push_back(std::move(e.process));
    containers_.erase(it);  // unmounts its root before the new one takes the path
  }
  if (containers_.size() >= kMaxContainers && !make_room())
    return error_reply(req.id, make_error("too many containers in this VM"));
  // A failed create of this id awaiting its reaping must not remove the
  // cgroup the new container is about to join.
  for (auto& r : retiring_)
    if (r->id() == req.container_id) r->release_cgroup();
  // Relay progress needs no callback: every turn of the loop ends in
  // send_pending, which looks at the relays of exited processes.
  auto created = Container::create(
      req, config_.root, config_.dial, *loop_, config_.setup_timeout, [] {},
      config_.create_before_join);
  if (auto* refusal = std::get_if<Container::Refusal>(&created)) {
    proto::ErrorReply e = error_reply(req.id, refusal->error);
    e.exit_code = refusal->exit_code;
    return e;
  }
  ContainerSlot& slot = containers_[req.container_id];
  slot.container = std::move(std::get<std::unique_ptr<Container>>(created));
  slot.reply_to = req.id;
  // A cgroup of the same id taken over from a failed create keeps its count.
  slot.ooms_sent = slot.container->oom_kills();
  if (inotify_ && !slot.container->cgroup_dir().empty()) {
    // The watch goes with the cgroup directory (IN_IGNORED): nothing to undo.
    std::string events = slot.container->cgroup_dir() + "/memory.events";
    (void)::inotify_add_watch(inotify_.get(), events.c_str(), IN_MODIFY);
  }
  return std::nullopt;
}

std::optional<proto::AgentMessage> Agent::start_container(const proto::Start& req) {
  auto slot = find(req.container_id);
  if (!slot.ok()) return error_reply(req.id, slot.error());
  // Pipelined behind its create (PROTOCOL.md "start"): begun, and answered,
  // once the create is.
  if ((*slot)->container->state() == Container::State::kCreating) {
    if ((*slot)->start_after_create)
      return error_reply(
          req.id, make_error("container \"" + req.container_id + "\" is already being started"));
    (*slot)->start_after_create = req.id;
    return std::nullopt;
  }
  if (auto st = (*slot)->container->start(); !st.ok()) return error_reply(req.id, st.error());
  (*slot)->reply_to = req.id;
  return std::nullopt;
}

proto::AgentMessage Agent::signal_container(const proto::Signal& req) {
  if (!req.exec_id.empty()) {
    auto e = find_exec(req.container_id, req.exec_id);
    if (!e.ok()) return error_reply(req.id, e.error());
    return status_reply(req.id, (*e)->signal(static_cast<int>(req.signal)));
  }
  auto slot = find(req.container_id);
  if (!slot.ok()) return error_reply(req.id, slot.error());
  Container& c = *(*slot)->container;
  int sig = static_cast<int>(req.signal);
  if (!req.all) return status_reply(req.id, c.signal(sig));
  return status_reply(req.id, c.signal_all(sig, joining_execs(**slot)));
}

std::vector<pid_t> Agent::joining_execs(const ContainerSlot& slot) {
  // An exec'd process joins the container's cgroup itself, after the fork:
  // one still being set up is signalled by its pid, or it would survive.
  // Only unreaped children are listed (reap_children marks them exited in
  // the same turn it reaps them), so no pid here can have been reused.
  std::vector<pid_t> joining;
  for (const auto& [eid, e] : slot.execs)
    if (e.process->stepping() && !e.process->exited()) joining.push_back(e.process->pid());
  return joining;
}

proto::AgentMessage Agent::resize_container(const proto::Resize& req) {
  if (!req.exec_id.empty()) {
    auto e = find_exec(req.container_id, req.exec_id);
    if (!e.ok()) return error_reply(req.id, e.error());
    return status_reply(req.id, (*e)->resize(req.rows, req.cols));
  }
  auto slot = find(req.container_id);
  if (!slot.ok()) return error_reply(req.id, slot.error());
  return status_reply(req.id, (*slot)->container->resize(req.rows, req.cols));
}

proto::AgentMessage Agent::update_memory(const proto::UpdateMemory& req) {
  auto slot = find(req.container_id);
  if (!slot.ok()) return error_reply(req.id, slot.error());
  std::optional<uint64_t> limit;
  if (req.limit) limit = req.limit;
  return status_reply(req.id, (*slot)->container->update_memory(limit, req.guest_ram));
}

proto::AgentMessage Agent::update_resources(const proto::UpdateResources& req) {
  auto slot = find(req.container_id);
  if (!slot.ok()) return error_reply(req.id, slot.error());
  return status_reply(req.id, (*slot)->container->update_resources(req));
}

proto::AgentMessage Agent::container_stats(const proto::StatsRequest& req) {
  auto slot = find(req.container_id);
  if (!slot.ok()) return error_reply(req.id, slot.error());
  const std::string& dir = (*slot)->container->cgroup_dir();
  if (dir.empty()) return error_reply(req.id, make_error("the container has no cgroup", ENOTSUP));
  auto stats = read_cgroup_stats(dir);
  if (!stats.ok()) return error_reply(req.id, stats.error());
  stats->id = req.id;
  return *stats;
}

std::optional<proto::AgentMessage> Agent::freeze_container(const proto::Freeze& req) {
  auto slot = find(req.container_id);
  if (!slot.ok()) return error_reply(req.id, slot.error());
  ContainerSlot& s = **slot;
  if (s.container->exited()) return error_reply(req.id, make_error("container not running"));
  if (s.freezing) return error_reply(req.id, make_error("the container is being frozen already"));
  if (auto st = s.container->set_frozen(true); !st.ok()) return error_reply(req.id, st.error());
  s.freezing = Freezing{req.id, std::chrono::steady_clock::now() + kFreezeTimeout};
  if (!freeze_poll_) freeze_poll_ = std::make_unique<Timer>(*loop_, [] {});
  if (!freeze_poll_->armed()) freeze_poll_->arm(kFreezePoll, kFreezePoll);
  return std::nullopt;  // send_pending looks after this turn
}

proto::AgentMessage Agent::thaw_container(const proto::Thaw& req) {
  auto slot = find(req.container_id);
  if (!slot.ok()) return error_reply(req.id, slot.error());
  ContainerSlot& s = **slot;
  Status st = s.container->set_frozen(false);
  if (s.freezing) {
    send(error_reply(s.freezing->reply_to, make_error("thawed before it froze")), "reply");
    s.freezing.reset();
  }
  return status_reply(req.id, st);
}

void Agent::check_freezing(ContainerSlot& slot) {
  if (!slot.freezing) return;
  auto frozen = slot.container->frozen();
  bool late = std::chrono::steady_clock::now() >= slot.freezing->deadline;
  if (frozen.ok() && !*frozen && !late) return;
  uint64_t id = slot.freezing->reply_to;
  slot.freezing.reset();
  if (frozen.ok() && *frozen) return send(proto::Ok{id}, "reply");
  // As runc: a freeze that does not complete is undone.
  (void)slot.container->set_frozen(false);
  if (!frozen.ok()) return send(error_reply(id, frozen.error()), "reply");
  send(error_reply(id, make_error("the container did not freeze within " +
                                  std::to_string(kFreezeTimeout.count() / 1000) + " s")),
       "reply");
}

Result<ExecProcess*> Agent::find_exec(std::string_view container_id, std::string_view exec_id) {
  ContainerSlot* slot = RUNVM_TRY(find(container_id));
  auto it = slot->execs.find(exec_id);
  if (it == slot->execs.end())
    return make_error("exec process \"" + std::string(exec_id) + "\" does not exist");
  return it->second.process.get();
}

std::optional<proto::AgentMessage> Agent::exec_process(const proto::Exec& req) {
  auto found = find(req.container_id);
  if (!found.ok()) return error_reply(req.id, found.error());
  ContainerSlot& slot = **found;
  Container& c = *slot.container;
  if (c.exited()) return error_reply(req.id, make_error("cannot exec in a stopped container"));
  // Its mount namespace is not the container's root until it is ready.
  if (c.state() == Container::State::kCreating)
    return error_reply(req.id,
                       make_error("container \"" + req.container_id + "\" is being created"));
  if (slot.execs.count(req.exec_id))
    return error_reply(req.id, make_error("exec id exists: " + req.exec_id));
  if (slot.execs.size() >= kMaxExecs)
    return error_reply(req.id, make_error("too many exec processes in this container"));
  auto launched = ExecProcess::launch(
      req, c, config_.dial, *loop_, config_.setup_timeout, [] {}, config_.exec_before_join);
  if (auto* refusal = std::get_if<Refusal>(&launched)) {
    proto::ErrorReply e = error_reply(req.id, refusal->error);
    e.exit_code = refusal->exit_code;
    return e;
  }
  slot.execs.emplace(req.exec_id,
                     ExecSlot{std::move(std::get<std::unique_ptr<ExecProcess>>(launched)), req.id});
  return std::nullopt;
}

}  // namespace runvm::agent
