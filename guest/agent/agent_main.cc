#include "guest/agent/agent_main.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "guest/agent/container_cgroup.h"
#include "guest/agent/container_root.h"
#include "guest/agent/init.h"
#include "guest/agent/rehearsal.h"
#include "guest/agent/trace.h"
#include "guest/agent/vsock.h"
#include "guest/protocol/constants.h"

namespace runvm::agent {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kConnectInterval = std::chrono::milliseconds(10);

std::string kernel_release() {
  utsname u{};
  return ::uname(&u) == 0 ? u.release : "unknown";
}

[[noreturn]] void finish(bool pid1, int code) {
  if (pid1) power_off();
  std::exit(code);
}

// runvm.premount=TAG (a pool unit, shim/container/sandbox.cc): the share
// its container's root will be on is mounted now, while the VM waits idle
// for its claim, not on the claim's critical path. Best effort: without it
// the member's create mounts the share itself.
void premount_share(RootConfig& root) {
  UniqueFd fd(::open("/proc/cmdline", O_RDONLY | O_CLOEXEC));
  if (!fd) return;
  char buf[4096];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  if (n <= 0) return;
  std::string tag = premount_tag_from_cmdline(std::string_view(buf, static_cast<size_t>(n)));
  if (tag.empty()) return;
  std::string dir = root.root_dir + "/.premounted-" + tag;
  if (auto st = mount_share(tag, dir); !st.ok()) return log_line("premount: " + st.error().message);
  root.premounted_tag = tag;
  root.premounted_dir = dir;
  trace::mark("share_premounted");
}

Status setup_system(uint64_t start_ns) {
  // Children are reaped by the agent's loop (signalfd), which also reports
  // the container's exit.
  RUNVM_CHECK(mount_pseudo_filesystems());
  // Whether to trace is known once /proc is mounted: the steps before are
  // timed now and traced below.
  const uint64_t mounted_ns = trace::now_ns();
  RUNVM_CHECK(bring_up_loopback());
  const uint64_t loopback_ns = trace::now_ns();
  RUNVM_CHECK(allow_overcommit());
  // The kernel handed us the rootfs /dev/console; reopen the devtmpfs one.
  RUNVM_CHECK(attach_console());
  trace::enable_from_cmdline();
  trace::mark_at("agent_started", start_ns);
  trace::mark_at("pseudo_mounted", mounted_ns);
  trace::mark_at("loopback_up", loopback_ns);
  trace::mark("system_ready");
  return {};
}

Result<Agent::Outcome> run(uint64_t boot_ns, bool pid1, ExtensionFn extension) {
  UniqueFd control = RUNVM_TRY(
      vsock_connect_retry(proto::kHostCid, proto::kAgentPort, kConnectTimeout, kConnectInterval)
          .context("connecting to host"));
  trace::mark("vsock_connected");
  AgentConfig config;
  // A process's stdio streams are dialed together (process_io.h).
  config.dial = [](uint32_t port) { return vsock_connect_start(proto::kHostCid, port); };
  // Only the guest's own hierarchy (setup_system mounted it), never a host's.
  if (pid1) config.root.cgroup_root = kCgroupRoot;
  std::shared_ptr<CgroupSpare> spare;
  if (pid1) config.root.cgroup_spare = spare = std::make_shared<CgroupSpare>();
  config.root.sync_at_exit = pid1;
  if (pid1) premount_share(config.root);
  // A pool unit (it premounted its share): before the hello, so the unit
  // counts as ready only once warmed and a claim never waits for it.
  if (pid1 && !config.root.premounted_tag.empty())
    rehearse_container(config.root, "/proc/self/exe");
  if (pid1)
    config.before_shutdown_ok = [] {
      ::sync();
      trace::mark("synced");
    };
  config.extension = std::move(extension);
  auto agent = RUNVM_TRY(Agent::create(control.get(), std::move(config)));
  trace::mark("agent_ready");
  RUNVM_CHECK(agent->send_hello(
      proto::Hello{proto::kProtocolVersion, RUNVM_AGENT_VERSION, boot_ns, kernel_release()}));
  trace::mark("hello_sent");
  // After the hello, so that the host never waits for it: a pool unit makes
  // it while idle, a cold VM before it reads the create the host sends next.
  if (spare) {
    if (auto st = spare->make(kCgroupRoot); !st.ok())
      log_line("spare cgroup: " + st.error().message);
    trace::mark("cgroup_spare_made");
  }
  return agent->serve();
}

}  // namespace

int agent_main(ExtensionFn extension) {
  // The rehearsal's process (rehearsal.h): it has run the whole set-up.
  if (::getenv(kRehearsalEnv) != nullptr) return 0;
  const uint64_t boot_ns = trace::now_ns();
  const bool pid1 = ::getpid() == 1;
  if (pid1) {
    auto st = setup_system(boot_ns);
    if (!st.ok()) {
      log_line("fatal: " + st.error().message);
      finish(pid1, 1);
    }
  }
  auto outcome = run(boot_ns, pid1, std::move(extension));
  if (!outcome.ok()) {
    log_line("fatal: " + outcome.error().message);
    finish(pid1, 1);
  }
  if (*outcome == Agent::Outcome::kHostGone) log_line("host closed the control stream");
  finish(pid1, 0);
}

}  // namespace runvm::agent
