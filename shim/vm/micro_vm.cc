#include "shim/vm/micro_vm.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <future>
#include <thread>
#include <utility>

#include "guest/protocol/constants.h"
#include "shim/confine/confine.h"
#include "shim/engine/child_process.h"
#include "spec/base/log.h"
#include "spec/base/timeline.h"

namespace runvm {

namespace {}

Result<std::unique_ptr<MicroVm>> MicroVm::boot(const MicroVmConfig& config) {
  std::unique_ptr<MicroVm> vm(new MicroVm(config));
  auto r = vm->start();
  if (!r.ok()) {
    Error e = std::move(r).error();
    std::string tail = vm->console_tail(3);
    if (!tail.empty()) e.message += " (guest console: " + tail + ")";
    return e;  // ~MicroVm tears down whatever started
  }
  return vm;
}

Status MicroVm::start() {
  const std::string& dir = socket_dir();
  loop_ = RUNVM_TRY(EventLoop::create());

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return errno_error("socketpair");
  UniqueFd host_end(sv[0]);
  auto guest_end = std::make_shared<UniqueFd>(sv[1]);

  vsock_ =
      RUNVM_TRY(VsockDevice::create(*loop_, {config_.guest_cid, vsock_path()}).context("vsock"));
  // The control stream is served in-process: the agent's connection to the
  // host port lands on our end of a socketpair, once.
  vsock_->set_port_handler(proto::kAgentPort, [guest_end]() -> Result<UniqueFd> {
    if (!guest_end->valid()) return make_error("agent already connected", EADDRINUSE);
    timeline::mark("agent_connected");
    return std::move(*guest_end);
  });
  for (auto& [port, handler] : config_.port_handlers) vsock_->set_port_handler(port, handler);
  vsock_server_ = RUNVM_TRY(
      vhost_user::VhostUserServer::listen(*loop_, dir + "/" + layout::kVsockBackendSocket, *vsock_)
          .context("vsock backend"));
  std::vector<VhostUserDevice> fs_specs;
  for (size_t i = 0; i < config_.shares.size(); ++i) {
    const auto& share = config_.shares[i];
    std::string sock = dir + "/" + layout::fs_backend_socket(i);
    FsConfig fs = share.fs;
    // Its helper threads (the xattr walk, files made ahead of time) are
    // made here, by a thread not confined yet: each confines itself to the
    // device role before it touches the share.
    fs.thread_start = [] { return confine::confine_thread(confine::Role::kDevice).ok(); };
    auto dev = RUNVM_TRY(
        (share.server ? FsDevice::create(*loop_, share.server) : FsDevice::create(*loop_, fs))
            .context("virtio-fs " + share.tag));
    fs_servers_.push_back(RUNVM_TRY(
        vhost_user::VhostUserServer::listen(*loop_, sock, *dev).context("virtio-fs backend")));
    fs_devices_.push_back(std::move(dev));
    fs_specs.push_back({VhostUserDevice::kFs, sock, 0, share.tag});
  }
  RUNVM_CHECK(add_test_hook());
  // The device thread parses guest data: it confines itself (the device
  // role, shim/confine) before it serves anything; QEMU is not started yet.
  std::promise<Status> confined;
  auto confined_result = confined.get_future();
  loop_thread_ = std::thread([this, &confined] {
    Status c = confine::confine_thread(confine::Role::kDevice);
    bool ok = c.ok();
    confined.set_value(std::move(c));
    if (!ok) return;
    auto r = loop_->run();
    if (!r.ok()) log::error("device loop: " + r.error().message);
  });
  RUNVM_CHECK(confined_result.get());

  VmConfig vm;
  vm.machine = config_.machine;
  // The guest's half of the timeline: the agent's phases on the console
  // (guest/agent/trace.h).
  if (log::debug_enabled())
    vm.machine.cmdline_extra +=
        (vm.machine.cmdline_extra.empty() ? "" : " ") + std::string("runvm.debug");
  vm.console_log = console_log();
  vm.engine_log = config_.state_dir + "/" + layout::kEngineLog;
  vm.devices.push_back(
      {VhostUserDevice::kVsock, dir + "/" + layout::kVsockBackendSocket, config_.guest_cid, ""});
  vm.devices.insert(vm.devices.end(), fs_specs.begin(), fs_specs.end());
  vm.taps = config_.taps;

  timeline::mark("backends_listening");
  engine_ = RUNVM_TRY(make_qemu_engine());
  auto t0 = std::chrono::steady_clock::now();
  RUNVM_CHECK(engine_->start(vm).context("start VM"));
  agent_ = std::make_unique<AgentClient>(std::move(host_end));
  agent_->set_abort_fd(engine_->pidfd());
  // Once: what it captured lives only as long as boot().
  if (config_.before_hello) std::exchange(config_.before_hello, nullptr)(*agent_);
  delay_hello_for_test();
  auto hello = agent_->wait_hello(config_.agent_timeout_ms);
  if (!hello.ok()) return boot_failure(std::move(hello).error());
  hello_ = std::move(*hello);
  boot_to_agent_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  // boot_ns: the guest's CLOCK_BOOTTIME as its agent started (kernel boot done).
  timeline::mark("agent_hello", "guest_boot_ms=" + std::to_string(hello_.boot_ns / 1'000'000));
  return {};
}

Error MicroVm::boot_failure(Error cause) {
  // QEMU gone before the hello (its pidfd woke the wait): how it ended is
  // the one line to give, as when it dies while starting (qemu_engine.cc).
  pollfd p{engine_->pidfd(), POLLIN, 0};
  if (cause.code == ECHILD && p.fd >= 0 && ::poll(&p, 1, 0) == 1) {
    if (auto status = engine_->wait(); status.ok())
      cause = make_error("qemu " + describe_wait_status(*status) + " before the agent answered",
                         ECHILD);
  }
  return std::move(cause).wrap("boot");
}

void MicroVm::delay_hello_for_test() {
#ifdef RUNVM_TEST_HOOKS
  // Test builds only (tests/integration/stdio_test.cc): $RUNVM_TEST_HELLO_DELAY_MS
  // makes the host late for the hello, as a loaded host is, so that what
  // the agent sends behind it (replies, a quick process's exit) is queued
  // and read with it.
  const char* ms = getenv("RUNVM_TEST_HELLO_DELAY_MS");
  if (ms && *ms) std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(ms)));
#endif
}

Status MicroVm::add_test_hook() {
#ifdef RUNVM_TEST_HOOKS
  // Test builds only (tests/integration/confine_test.cc): a byte written to
  // the FIFO named by $RUNVM_TEST_DEVICE_SYSCALL_FIFO makes the device
  // thread call a syscall its filter forbids. Not reachable from the guest.
  const char* fifo = getenv("RUNVM_TEST_DEVICE_SYSCALL_FIFO");
  if (!fifo || !*fifo) return {};
  // O_RDWR: the FIFO never reports EOF once a writer left.
  test_hook_.reset(::open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!test_hook_) return errno_error(std::string("test hook ") + fifo);
  return loop_->add(test_hook_.get(), EPOLLIN, [](uint32_t) { confine::call_forbidden_syscall(); });
#else
  return {};
#endif
}

Status MicroVm::pause() {
  RUNVM_CHECK(engine_->pause());
  paused_ = true;
  return {};
}

Status MicroVm::resume() {
  RUNVM_CHECK(engine_->resume());
  paused_ = false;
  auto queued = std::move(after_resume_);
  after_resume_.clear();
  for (auto& fn : queued) fn();
  return {};
}

void MicroVm::end_vcpu_request() {
  if (--vcpu_requests_ > 0) return;
  auto queued = std::move(after_idle_);
  after_idle_.clear();
  for (auto& fn : queued) fn();
}

void MicroVm::pause_when_idle(std::function<void(Status)> done) {
  auto go = [this, done = std::move(done)] { done(pause()); };
  if (vcpu_requests_ == 0) return go();
  after_idle_.push_back(std::move(go));
}

void MicroVm::when_running(std::function<void()> fn) {
  if (!paused_) return fn();
  after_resume_.push_back(std::move(fn));
}

Status MicroVm::seal_share_readonly(const std::string& tag) {
  for (size_t i = 0; i < config_.shares.size(); ++i) {
    if (config_.shares[i].tag != tag) continue;
    PassthroughFs* fs = fs_devices_[i]->fs();
    if (!fs) return make_error("share " + tag + " is not a directory");
    fs->seal_readonly();
    return {};
  }
  return make_error("no share tagged " + tag);
}

bool MicroVm::guest_holds_writes() const {
  for (const auto& share : config_.shares)
    if (share.fs.writeback && !share.fs.readonly && !share.server) return true;
  return false;
}

Result<int> MicroVm::shutdown(bool processes_run) {
  if (reaped_) return make_error("VM already stopped");
  if (!guest_holds_writes() && !processes_run && agent_) {
    // Without a writeback cache every write(2) reached the host before it
    // returned, and the agent synced each container's dirty mapped pages
    // when its process ended (guest/agent/container.cc): the guest holds
    // nothing worth a round trip (a guest sync, tens of ms under TCG).
    RUNVM_CHECK(engine_->kill());
    release_devices();
    auto status = RUNVM_TRY(engine_->wait());
    reaped_ = true;
    timeline::mark("vm_exited");
    (void)status;  // killed as asked: a clean end
    return 0;
  }
  auto r = agent_ ? agent_->shutdown() : Status(make_error("no agent"));
  if (!r.ok())
    log::debug("agent shutdown: " + r.error().message + "; stopping the engine");
  else
    timeline::mark("agent_shutdown");
  // The agent synced before its ok (PROTOCOL.md): nothing written is left in
  // the guest, and neither the guest's power-off nor QEMU's quit (each stops
  // every device in turn, under TCG tens of ms) is worth waiting for. The
  // VM ended as asked: that is a clean exit, whatever signal ended QEMU.
  if (r.ok()) {
    RUNVM_CHECK(engine_->kill());
    release_devices();
  } else {
    RUNVM_CHECK(engine_->stop());
  }
  auto status = RUNVM_TRY(engine_->wait());
  reaped_ = true;
  timeline::mark("vm_exited");
  return r.ok() ? 0 : status;
}

Result<int> MicroVm::wait() {
  if (reaped_) return make_error("VM already stopped");
  auto status = RUNVM_TRY(engine_->wait());
  reaped_ = true;
  return status;
}

void MicroVm::stop_loop() {
  if (loop_thread_.joinable()) {
    loop_->stop();
    loop_thread_.join();
  }
}

void MicroVm::report_fs_stats() const {
  // RUNVM_FS_STATS=<file>: benchmarks collect the counts of every VM there.
  const char* path = getenv("RUNVM_FS_STATS");
  if (!log::debug_enabled() && !(path && *path)) return;
  std::string text;
  for (size_t i = 0; i < fs_devices_.size() && i < config_.shares.size(); ++i) {
    const std::string stats = fs_devices_[i]->format_stats();
    log::debug("virtio-fs " + config_.shares[i].tag + " requests:\n" + stats);
    text += "share " + config_.shares[i].tag + "\n" + stats;
  }
  if (path && *path) {
    std::ofstream out(path, std::ios::app);
    out << text;
  }
}

MicroVm::~MicroVm() {
  // The engine goes first: once QEMU is gone nothing talks to the backends.
  if (engine_ && !reaped_) {
    (void)engine_->stop();
    (void)engine_->wait();
  }
  engine_.reset();
  release_devices();
  agent_.reset();
  // The guest's RAM is freed by now (its last mapping was the backends'),
  // or was by QEMU's exit (shutdown released the backends before it).
  timeline::mark("vm_released");
}

void MicroVm::release_devices() {
  stop_loop();
  vsock_server_.reset();
  vsock_.reset();
  if (!fs_devices_.empty()) report_fs_stats();
  fs_servers_.clear();  // servers before the devices they drive
  fs_devices_.clear();
}

std::string MicroVm::console_tail(size_t lines) const {
  std::ifstream in(console_log());
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (line.empty()) continue;
    last.push_back(proto::printable(line, 200));
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (auto& l : last) out += (out.empty() ? "" : " | ") + l;
  return out;
}

}  // namespace runvm
