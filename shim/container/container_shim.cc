#include "shim/container/container_shim.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>

#include "guest/protocol/constants.h"
#include "guest/protocol/frame.h"
#include "guest/protocol/stdio_kind.h"
#include "shim/client/control.h"
#include "shim/container/agent_request.h"
#include "shim/container/bind_shares.h"
#include "shim/fs/stdio_fs.h"
#include "shim/net/container_network.h"
#include "spec/base/atomic_file.h"
#include "spec/base/log.h"
#include "spec/base/state_layout.h"
#include "spec/base/unix_socket.h"

namespace runvm {

namespace {

// How long draining output after the process exited may make no progress.
constexpr int kDrainMs = 5000;
// How often a console's window size is checked.
constexpr int kConsolePollMs = 200;

// One end of a socketpair handed to the vsock device on the guest's first
// connection to a port; the other end stays with the shim.
struct StdioChannel {
  UniqueFd host;
  PortHandler handler;
};

Result<StdioChannel> stdio_channel() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return errno_error("socketpair");
  auto device_end = std::make_shared<UniqueFd>(sv[1]);
  StdioChannel c{UniqueFd(sv[0]), [device_end]() -> Result<UniqueFd> {
                   if (!device_end->valid())
                     return make_error("stdio already connected", EADDRINUSE);
                   return std::move(*device_end);
                 }};
  return c;
}

}  // namespace

Result<std::unique_ptr<ContainerShim>> ContainerShim::create(ContainerShimOptions options) {
  std::unique_ptr<ContainerShim> shim(new ContainerShim(std::move(options)));
  RUNVM_CHECK(shim->boot());
  return shim;
}

ContainerShim::~ContainerShim() {
  if (in_) in_->detach();  // may sit in read(2) on a terminal forever
  execs_.reset();          // tells waiting `runvm exec`s before the VM goes
  vm_.reset();
  unlink(control_path().c_str());
}

Status ContainerShim::boot() {
  const auto& config = opts_.bundle.config;
  if (!config.process) return make_error("config.json: process: is required");
  bool terminal = config.process->terminal;
  // Our stdio is the container's (inherited from the caller): the process
  // gets the same kind of fd in the guest, and no stream for /dev/null. A
  // terminal process's pty carries stdin and stdout, relayed to the console.
  std::optional<proto::StdioKind> kinds[3];
  if (terminal)
    kinds[0] = kinds[1] = proto::StdioKind::kTty;
  else
    for (int fd = 0; fd < 3; ++fd)
      kinds[fd] = opts_.stdio_pipes ? proto::StdioKind::kPipe : proto::stdio_kind_of_fd(fd);
  constexpr uint32_t kPorts[3] = {proto::kStdinPort, proto::kStdoutPort, proto::kStderrPort};
  proto::StdioPorts ports;
  uint32_t* port[3] = {&ports.stdin_port, &ports.stdout_port, &ports.stderr_port};
  proto::StdioKind* kind[3] = {&ports.stdin_kind, &ports.stdout_kind, &ports.stderr_kind};
  std::optional<StdioChannel> channels[3];

  MicroVmConfig vm = opts_.vm;
  // Regular files are served as they are (StdioFs): no stream.
  std::array<int, 3> files = {-1, -1, -1};
  for (int i = 0; i < 3; ++i) {
    if (!kinds[i]) continue;
    *kind[i] = *kinds[i];
    if (*kinds[i] == proto::StdioKind::kFile || *kinds[i] == proto::StdioKind::kAppendFile) {
      files[i] = i;
      continue;
    }
    channels[i] = RUNVM_TRY(stdio_channel());
    *port[i] = kPorts[i];
    vm.port_handlers.emplace_back(kPorts[i], channels[i]->handler);
  }
  vm.state_dir = opts_.state_dir;
  // A read-only root is sealed once the agent made its mountpoints in it.
  vm.shares.push_back({kRootfsTag, FsConfig{opts_.bundle.rootfs, CachePolicy::kExclusive, false}});
  auto mount_plan = RUNVM_TRY(plan_mounts(config.mounts).context("config.json"));
  for (auto& share : mount_plan.shares) vm.shares.push_back(std::move(share));
  // As runc's fixStdioPermissions, which chowns the very fd it hands over:
  // the process's user owns its stdio (uid only; refusals are ignored).
  for (int fd : files)
    if (fd >= 0) (void)fchown(fd, config.process->user.uid, static_cast<gid_t>(-1));
  if (files != std::array<int, 3>{-1, -1, -1})
    vm.shares.push_back({proto::kStdioShareTag, {}, std::make_shared<StdioFs>(files)});
  // Network (issue 10): taps joined to the namespace's interfaces, or none.
  network_ = RUNVM_TRY(net::attach_container_network(config));
  if (network_) vm.taps = net::tap_devices(*network_);
  vm_ = RUNVM_TRY(MicroVm::boot(vm));
  // Which kernel and agent answered, and how fast: the proof, in the log,
  // that this container runs in its own VM (the compat suites check it).
  log::info("VM up in " + std::to_string(static_cast<long>(vm_->boot_to_agent_ms())) +
            " ms: guest kernel " + proto::printable(vm_->hello().kernel, 64) + ", agent " +
            proto::printable(vm_->hello().agent, 64));

  if (network_)
    RUNVM_CHECK(vm_->agent().configure_network(network_->network()).context("guest network"));
  auto req = RUNVM_TRY(make_create_request(opts_.id, config, ports).context("config.json"));
  if (!terminal) req.process.console_size = proto::tty_stream_size(ports);
  RUNVM_CHECK(vm_->agent().create(std::move(req)).context("unable to start container process"));
  if (config.root.readonly) RUNVM_CHECK(vm_->seal_share_readonly(kRootfsTag));

  execs_ = std::make_unique<ExecSessions>(vm_->agent(), opts_.id);
  control_ = RUNVM_TRY(listen_unix(control_path(), {.replace_stale = true, .mode = 0600}));
  // Relay our own stdio, or for a terminal the console whose master the
  // caller gets.
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
  if (channels[0]) in_ = std::make_unique<StdioPump>(tty_in, std::move(channels[0]->host));
  if (channels[1]) out_ = std::make_unique<StdioPump>(std::move(channels[1]->host), tty_out);
  if (channels[2]) err_ = std::make_unique<StdioPump>(std::move(channels[2]->host), STDERR_FILENO);
  write_status("created");
  return {};
}

void ContainerShim::write_status(const char* status) {
  // Atomic replace: `runvm state` may read it at any time. Not durable: it is
  // rewritten on every change and a host crash ends the container anyway. A
  // failure is not fatal: `runvm state` then reports state.json's status.
  [[maybe_unused]] auto s =
      write_file_atomic(opts_.state_dir + "/" + layout::kStatusFile, status, /*durable=*/false);
}

Status ContainerShim::on(const control::Start&) {
  if (started_) return make_error("container already started");
  RUNVM_CHECK(vm_->agent().start(opts_.id));
  started_ = true;
  write_status("running");
  return {};
}

Status ContainerShim::on(const control::Kill& k) {
  return vm_->agent().signal(opts_.id, k.signal, k.all);
}

Status ContainerShim::on(const control::Pause&) {
  RUNVM_CHECK(vm_->engine().pause());
  write_status("paused");
  return {};
}

Status ContainerShim::on(const control::Resume&) {
  RUNVM_CHECK(vm_->engine().resume());
  write_status(started_ ? "running" : "created");
  return {};
}

Status ContainerShim::on(const control::Resize& r) {
  return vm_->agent().resize(opts_.id, r.rows, r.cols);
}

Status ContainerShim::handle_control(int listen_fd) {
  UniqueFd conn(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return {};  // the client gave up; nothing to answer
  pollfd p{conn.get(), POLLIN, 0};
  if (poll(&p, 1, 5000) <= 0) return {};
  auto body = proto::read_frame(conn.get());
  Result<control::Request> req = !body.ok() ? Result<control::Request>(std::move(body).error())
                                 : !*body   ? Result<control::Request>(make_error("empty request"))
                                            : control::parse_request(**body);
  if (!req.ok())
    return proto::write_frame(conn.get(), control::encode(control::Reply{std::move(req).error()}));
  return std::visit(
      [&]<class M>(M& m) -> Status {
        if constexpr (std::is_same_v<M, control::Exec>) {
          // An exec keeps its connection: the exit is reported on it.
          execs_->open(std::move(conn), std::move(m));
          return {};
        } else {
          return proto::write_frame(conn.get(), control::encode(control::Reply{on(m)}));
        }
      },
      *req);
}

Result<int> ContainerShim::serve(int signal_fd) {
  auto& agent = vm_->agent();
  while (true) {
    execs_->deliver_exits();  // any agent call may have queued some
    if (auto exit = agent.take_exit()) return finish(static_cast<int>(exit->status));
    std::vector<pollfd> fds = {{control_.get(), POLLIN, 0},
                               {agent.fd(), POLLIN, 0},
                               {vm_->engine().pidfd(), POLLIN, 0},
                               {signal_fd, POLLIN, 0}};
    execs_->append_pollfds(fds);
    // A console's size is polled: its owner resizes the master, and the
    // slave side gets no SIGWINCH unless it is our controlling terminal.
    if (poll(fds.data(), fds.size(), console_ ? kConsolePollMs : -1) < 0) {
      if (errno == EINTR) continue;
      return errno_error("poll");
    }
    if (console_) {
      if (auto size = console_->size_change()) {
        auto r = agent.resize(opts_.id, size->ws_row, size->ws_col);
        if (!r.ok()) log::debug("resize: " + r.error().message);
        // The call may have read what made the agent's fd readable (the
        // exit, say): poll again rather than block in pump() below.
        continue;
      }
    }
    if (fds[1].revents) {
      auto r = agent.pump();
      if (!r.ok()) {
        log::error("agent: " + r.error().message);
        return finish(SIGKILL, false);  // the guest side is gone: the process with it
      }
      continue;
    }
    if (fds[2].revents) {
      log::error("VM exited unexpectedly: " + vm_->console_tail(3));
      (void)vm_->wait();
      return finish(SIGKILL, false);
    }
    if (fds[0].revents) {
      auto r = handle_control(control_.get());
      if (!r.ok()) log::debug("control: " + r.error().message);
    }
    for (size_t i = 4; i < fds.size(); ++i)
      if (fds[i].revents) execs_->on_ready(fds[i].fd);
    if (signal_fd >= 0 && (fds[3].revents & POLLIN)) {
      signalfd_siginfo si;
      if (read(signal_fd, &si, sizeof si) == sizeof si) {
        // The shim's pid stands for the container: pass signals on.
        auto r = agent.signal(opts_.id, static_cast<int>(si.ssi_signo), false);
        if (!r.ok()) log::debug("forward signal: " + r.error().message);
      }
    }
  }
}

Result<int> ContainerShim::finish(int wait_status, bool drain) {
  write_status("stopped");
  // The container's end takes every other process in it along, as in runc
  // (its PID namespace dies with its init): what they wrote is delivered,
  // and nothing holds the stdio open any longer.
  execs_->end_all(SIGKILL);
  if (drain) {
    auto r = vm_->agent().signal(opts_.id, SIGKILL, true);
    if (!r.ok()) log::debug("killing the container's other processes: " + r.error().message);
  }
  // Output written before the exit is queued towards us: deliver all of it
  // however slowly our reader takes it, but give up on a reader that takes
  // nothing at all.
  auto drained = [](StdioPump* pump) {
    for (uint64_t seen = pump->bytes();; seen = pump->bytes()) {
      if (pump->wait_for(kDrainMs)) return true;
      if (pump->bytes() == seen) return false;
    }
  };
  if (drain && out_ && !drained(out_.get())) log::debug("stdout did not drain");
  if (drain && err_ && !drained(err_.get())) log::debug("stderr did not drain");
  auto r = vm_->shutdown(5000);
  if (!r.ok()) log::debug("VM shutdown: " + r.error().message);
  return wait_status;
}

}  // namespace runvm
