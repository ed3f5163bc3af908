#include "shim/engine/qemu_engine.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "shim/engine/host_tsc.h"
#include "shim/engine/qemu_command.h"
#include "shim/engine/vcpu_affinity.h"
#include "spec/base/log.h"
#include "spec/base/timeline.h"
#include "spec/base/unix_socket.h"

namespace runvm {
namespace {

// Last non-empty line of a (small) log file; QEMU prints one error line
// before exiting on a bad option.
std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

Result<std::string> canonical(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return errno_error("qemu start: " + path);
  return std::string(buf);
}

}  // namespace

Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> make_qemu_engine() {
  return std::unique_ptr<Engine>(std::make_unique<QemuEngine>());
}

Error QemuEngine::start_failure(Error cause) {
  // A QEMU that rejects its options may reset the QMP socket a moment before
  // it exits: give it that moment, so the error is QEMU's own message.
  bool exited = child_.exited() || child_.wait_exit(std::chrono::seconds(1)).value_or(false);
  if (exited) {
    auto status = child_.wait();
    std::string msg = "qemu " + (status ? describe_wait_status(*status) : status.error().message);
    std::string tail = last_line(config_.engine_log);
    if (!tail.empty()) msg += ": " + tail;
    qmp_.reset();
    return make_error(msg);
  }
  child_.kill_and_reap();
  qmp_.reset();
  return std::move(cause).wrap("qemu start");
}

Status QemuEngine::start(const VmConfig& config) {
  if (child_.valid() && !child_.reaped()) return make_error("qemu start: already running");
  if (config.machine.kernel.empty()) return make_error("qemu start: no kernel");
  config_ = config;
  // Absolute, symlink-free paths: QEMU finds its modules and firmware next
  // to its binary's path, and the kernel and initrd are bound at theirs in
  // its own root.
  VmConfig qemu = config;
  qemu.machine.qemu =
      RUNVM_TRY(canonical(RUNVM_TRY(find_program(config.machine.qemu).context("qemu start"))));
  qemu.machine.kernel = RUNVM_TRY(canonical(config.machine.kernel));
  if (!qemu.machine.kvm && qemu.machine.tsc_khz == 0) {
    qemu.machine.tsc_khz = host_tsc_khz().value_or(0);
    log::debug("guest clock: " +
               (qemu.machine.tsc_khz
                    ? "the host's TSC, " + std::to_string(qemu.machine.tsc_khz) + " kHz"
                    : std::string("jiffies (no invariant TSC)")));
  }
  ConfinementSpec confine{.read_only = {qemu.machine.kernel}};
  if (!config.machine.initrd.empty()) {
    qemu.machine.initrd = RUNVM_TRY(canonical(config.machine.initrd));
    confine.read_only.push_back(qemu.machine.initrd);
  }
  if (config.machine.kvm) confine.devices.push_back("/dev/kvm");
  if (!config.machine.qemu_user.empty())
    confine.user = RUNVM_TRY(resolve_user(config.machine.qemu_user).context("qemu start"));
  auto prepared = RUNVM_TRY(prepare_confinement(confine, qemu.machine.qemu).context("qemu start"));
  if (!prepared.mount_namespace())
    log::warn("qemu start: no CAP_SYS_ADMIN: QEMU sees the host's mounts (docs/security.md)");
  // QEMU gets every socket and file it writes as an inherited descriptor
  // and opens no path of ours (docs/security.md): its mount namespace holds
  // none of them and it may run as a user who could not open them.
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return errno_error("qemu start: socketpair");
  UniqueFd qmp_ours(sv[0]), qmp_theirs(sv[1]);
  QemuFds fds{.qmp = qmp_theirs.get()};
  std::vector<int> inherit = {fds.qmp};
  UniqueFd console;
  if (!config.console_log.empty()) {
    console.reset(::open(config.console_log.c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640));
    if (!console) return errno_error("qemu start: " + config.console_log);
    fds.console = console.get();
    inherit.push_back(fds.console);
  }
  // The backends listen already: a connect lands in their backlog and they
  // accept it as they would QEMU's own.
  std::vector<UniqueFd> devices;
  for (const auto& d : config.devices) {
    devices.push_back(RUNVM_TRY(connect_unix(d.socket).context("qemu start: " + d.socket)));
    fds.devices.push_back(devices.back().get());
    inherit.push_back(fds.devices.back());
  }
  for (const auto& tap : config.taps) inherit.push_back(tap.fd);
  child_ = RUNVM_TRY(
      ChildProcess::spawn(qemu_command_line(qemu, fds), config.engine_log, inherit, &prepared)
          .context("qemu start"));
  timeline::mark("qemu_spawned");
  // Only QEMU holds these now: its exit is seen as EOF on ours.
  qmp_theirs.reset();
  console.reset();
  devices.clear();
  if (auto st = connect_qmp(std::move(qmp_ours)); !st) return start_failure(std::move(st).error());
  watch_vcpu_clocks();
  timeline::mark("qmp_ready");
  if (auto st = pin_vcpus(); !st) {
    child_.kill_and_reap();
    qmp_.reset();
    return std::move(st).error().wrap("qemu start");
  }
  return {};
}

Status QemuEngine::pin_vcpus() {
  if (config_.machine.cpuset.empty()) return {};
  // The vCPU threads exist once QMP answers (QEMU creates them before it
  // serves the monitor), so they are pinned before the guest runs much.
  cpu_set_t mask = RUNVM_TRY(cpu_mask_from_list(config_.machine.cpuset));
  auto reply = RUNVM_TRY(qmp("query-cpus-fast"));
  auto tids = RUNVM_TRY(vcpu_threads_from_qmp(reply));
  return pin_threads(tids, mask).context("cpuset " + config_.machine.cpuset);
}

void QemuEngine::watch_vcpu_clocks() {
  if (!log::debug_enabled()) return;
  // --debug only: a QMP round trip, while the guest boots on.
  auto reply = qmp("query-cpus-fast");
  auto tids =
      reply.ok() ? vcpu_threads_from_qmp(*reply) : Result<std::vector<pid_t>>(reply.error());
  if (!tids.ok()) return log::debug("vcpu clocks: " + tids.error().message);
  std::vector<int> fds;
  for (pid_t tid : *tids) {
    std::string path =
        "/proc/" + std::to_string(child_.pid()) + "/task/" + std::to_string(tid) + "/schedstat";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) fds.push_back(fd);
  }
  if (fds.size() == tids->size()) return timeline::set_vcpu_clocks(std::move(fds));
  for (int fd : fds) ::close(fd);
  log::debug("vcpu clocks: no schedstat for QEMU's vCPU threads");
}

Status QemuEngine::set_cpuset(const std::string& cpus) {
  cpu_set_t mask = RUNVM_TRY(cpu_mask_from_list(cpus));
  auto reply = RUNVM_TRY(qmp("query-cpus-fast"));
  auto tids = RUNVM_TRY(vcpu_threads_from_qmp(reply));
  RUNVM_CHECK(pin_threads(tids, mask).context("cpuset " + cpus));
  config_.machine.cpuset = cpus;
  return {};
}

Status QemuEngine::connect_qmp(UniqueFd fd) {
  qmp_.emplace(
      RUNVM_TRY(QmpClient::handshake(std::move(fd), config_.start_timeout, child_.pidfd())));
  return {};
}

Result<std::string> QemuEngine::qmp(std::string_view cmd, std::string_view args_json) {
  if (!qmp_) return make_error("qemu: not running");
  return qmp_->execute(cmd, args_json);
}

Status QemuEngine::pause() {
  RUNVM_TRY(qmp("stop"));
  return {};
}

Status QemuEngine::resume() {
  RUNVM_TRY(qmp("cont"));
  return {};
}

Status QemuEngine::set_memory(uint64_t bytes) {
  if (bytes > config_.machine.memory_mib << 20)
    return make_error("memory " + std::to_string(bytes) + " is more than the boot size");
  // virtio-balloon: QEMU's target is the guest's RAM, not the balloon's size.
  RUNVM_TRY(qmp("balloon", "{\"value\":" + std::to_string(bytes) + "}"));
  return {};
}

Status QemuEngine::stop() {
  if (!child_.valid() || child_.exited()) {
    qmp_.reset();
    return {};
  }
  // QEMU may close the socket before its reply arrives: only the exit counts.
  if (qmp_) (void)qmp_->execute("quit", {}, kQuitGrace);
  qmp_.reset();
  auto gone = child_.wait_exit(kQuitGrace);
  if (gone && *gone) return {};
  RUNVM_CHECK(child_.signal(SIGKILL).context("qemu stop"));
  auto killed = RUNVM_TRY(child_.wait_exit(kQuitGrace));
  if (!killed) return make_error("qemu stop: process did not die after SIGKILL");
  return {};
}

Status QemuEngine::kill() {
  qmp_.reset();
  if (!child_.valid() || child_.exited()) return {};
  return child_.signal(SIGKILL).context("qemu kill");
}

Result<int> QemuEngine::wait() {
  if (!child_.valid()) return make_error("qemu: never started", ECHILD);
  qmp_.reset();
  auto status = child_.wait();
  timeline::set_vcpu_clocks({});
  // Beside bench/bare_boot.sh's QEMU CPU time: what our VM cost in all.
  if (status.ok()) timeline::mark("qemu_reaped", "qemu_cpu_ms=" + std::to_string(child_.cpu_ms()));
  return status;
}

}  // namespace runvm
