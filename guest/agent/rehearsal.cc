#include "guest/agent/rehearsal.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "guest/agent/agent.h"
#include "guest/agent/container_cgroup.h"
#include "guest/agent/init.h"
#include "guest/agent/trace.h"
#include "guest/protocol/frame.h"
#include "guest/protocol/messages.h"
#include "spec/base/temp_dir.h"

namespace runvm::agent {
namespace {

// The rehearsal's host gives up after this: well inside the host's 30 s wait
// for the hello (micro_vm.h) on a slow TCG boot; a rehearsal that does not
// finish in time is given up, the unit still serves.
constexpr unsigned kHostSeconds = 5;

// Request ids of the rehearsal's host.
constexpr uint64_t kCreateId = 1, kStartId = 2, kShutdownId = 3;

// What `runvm spec` (runc's default spec) asks for, as the host sends it.
// Its executable, /bin/runvm-agent, is found by a PATH search, as `true` is:
// the lookups of the directories before /bin miss on the share.
proto::Create rehearsal_request() {
  proto::Create req;
  req.container_id = "rehearsal";
  req.rootfs.readonly = true;  // root.readonly, remounted so once its mountpoints are made
  proto::Process& p = req.process;
  p.args = {"runvm-agent"};
  // No HOME: the process reads /etc/passwd, as `runvm run` of such a spec.
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           std::string(kRehearsalEnv) + "=1"};
  p.rlimits = {{"RLIMIT_NOFILE", 1024, 1024}};
  p.no_new_privileges = true;
  const std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  p.capabilities = proto::Capabilities{caps, caps, {}, caps, caps};
  proto::LinuxSpec& lx = req.linux_spec;
  lx.new_pid_ns = true;
  const std::vector<std::string> nosuid_noexec_nodev = {"nosuid", "noexec", "nodev"};
  lx.mounts = {
      {"/proc", "proc", "proc", "", {}},
      {"/dev", "tmpfs", "tmpfs", "", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       "",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", "", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", "", nosuid_noexec_nodev},
      {"/sys", "sysfs", "sysfs", "", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", "", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };
  lx.masked_paths = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                     "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                     "/proc/timer_stats", "/proc/sched_debug",   "/sys/firmware",
                     "/proc/scsi"};
  lx.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  return req;
}

Result<UniqueFd> create_file(const std::string& path, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return errno_error("creating " + path);
  return fd;
}

// The scratch root: a directory of the premounted share, where the claimed
// container's root will be too, with /etc/passwd and a copy of the agent.
// The container is set up and exec'd through virtio-fs as a claimed one is
// (lookups, mountpoints, the passwd read, execve and page faults of a
// binary on FUSE): on a tmpfs root those kernel paths stayed untranslated
// until the claim. The share is coherent (no page cache kept across opens),
// so the execve reads the copy from the host again. Removed with everything
// in it when done (TempDir).
Result<TempDir> make_scratch_tree(const std::string& share_dir, const std::string& agent_binary) {
  TempDir tree = RUNVM_TRY(TempDir::create(share_dir, ".rehearsal"));
  // mkdtemp's 0700: a container root is usually 0755.
  if (::chmod(tree.path().c_str(), 0755) != 0) return errno_error("chmod " + tree.path());
  for (const char* d : {"bin", "etc"})
    if (::mkdir((tree / d).c_str(), 0755) != 0) return errno_error(std::string("mkdir ") + d);
  UniqueFd passwd = RUNVM_TRY(create_file(tree / "etc/passwd", 0644));
  constexpr std::string_view kPasswd = "root:x:0:0:root:/root:/bin/sh\n";
  RUNVM_CHECK(proto::write_all(passwd.get(), kPasswd.data(), kPasswd.size()));
  UniqueFd in(::open(agent_binary.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return errno_error("open " + agent_binary);
  UniqueFd out = RUNVM_TRY(create_file(tree / "bin/runvm-agent", 0755));
  std::vector<char> buf(256 * 1024);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("reading " + agent_binary);
    if (n == 0) break;
    RUNVM_CHECK(proto::write_all(out.get(), buf.data(), static_cast<size_t>(n)));
  }
  return tree;
}

// The rehearsal's host, a child process: what the shim sends a claimed unit
// (create and start pipelined, stdio streams dialed), then, at the exit, a
// shutdown, which ends the agent's serve(). Its verdict goes to
// `verdict_fd` first: 'y' for both steps ok and an exit status 0.
[[noreturn]] void play_host(int control, int verdict_fd, const proto::Create& create) {
  // Dead (SIGALRM's default), it closes the stream: serve() returns.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGALRM, SIG_DFL);
  ::alarm(kHostSeconds);
  bool ok =
      proto::write_frame(control, proto::to_json(create)).ok() &&
      proto::write_frame(control, proto::to_json(proto::Start{kStartId, create.container_id})).ok();
  for (int oks = 0; ok;) {
    auto frame = proto::read_frame(control);
    auto msg = frame.ok() && *frame ? proto::parse_agent_message(**frame)
                                    : Result<proto::AgentMessage>(make_error("no reply"));
    if (!msg.ok()) {
      ok = false;
    } else if (std::holds_alternative<proto::Ok>(*msg)) {
      ++oks;
    } else if (auto* exit = std::get_if<proto::Exit>(&*msg)) {
      ok = oks == 2 && exit->status == 0;
      break;
    } else {
      ok = false;
    }
  }
  const char verdict = ok ? 'y' : 'n';
  (void)!::write(verdict_fd, &verdict, 1);
  (void)proto::write_frame(control, proto::to_json(proto::Shutdown{kShutdownId}));
  (void)proto::read_frame(control);
  _exit(0);
}

// rmdir, retried for up to 1 s while the cgroup is still populated (EBUSY).
void remove_cgroup_once_empty(const std::string& dir) {
  for (int i = 0; i < 100; ++i) {
    if (::rmdir(dir.c_str()) == 0 || errno != EBUSY) return;
    ::usleep(10'000);
  }
  log_line("rehearsal: its cgroup " + dir + " is still in use");
}

// The rehearsal runs the agent's own request handling (Agent, on a socketpair
// instead of vsock): the create's parse, root, cgroup, stdio and fork, the
// set-up steps, the stdio relays, the reaping, the sync at exit and the exit
// report are all what a claim then runs, translated already.
Status rehearse(const RootConfig& config, const std::string& agent_binary) {
  if (config.premounted_dir.empty()) return make_error("no premounted share");
  TempDir tree = RUNVM_TRY(make_scratch_tree(config.premounted_dir, agent_binary));
  trace::mark("rehearsal_tree_made");
  proto::Create req = rehearsal_request();
  req.id = kCreateId;
  // Bound from the share as a claimed pod member's root is.
  req.rootfs.tag = config.premounted_tag;
  req.rootfs.path = tree.path().substr(tree.path().rfind('/') + 1);
  // Streams as `runvm run` dials them; here unix sockets, whose far ends
  // the rehearsal holds (stdin's closed: EOF).
  req.stdio = proto::StdioPorts{1, 2, 3};
  std::vector<UniqueFd> far_ends;
  AgentConfig agent_config;
  agent_config.root = config;
  // The spare cgroup is the claimed container's, never the rehearsal's.
  agent_config.root.cgroup_spare.reset();
  agent_config.dial = [&far_ends](uint32_t port) -> Result<UniqueFd> {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
      return errno_error("socketpair");
    if (port != 1)
      far_ends.emplace_back(fds[1]);
    else
      ::close(fds[1]);
    return UniqueFd(fds[0]);
  };
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    return errno_error("socketpair");
  UniqueFd control(pair[0]), host_end(pair[1]);
  if (::pipe2(pair, O_CLOEXEC) < 0) return errno_error("pipe");
  UniqueFd verdict(pair[0]), verdict_w(pair[1]);
  pid_t host = ::fork();
  if (host < 0) return errno_error("fork");
  if (host == 0) {
    control.reset();
    play_host(host_end.get(), verdict_w.get(), req);
  }
  host_end.reset();
  verdict_w.reset();
  Result<Agent::Outcome> outcome = make_error("no agent");
  if (auto agent = Agent::create(control.get(), std::move(agent_config)); agent.ok())
    outcome = (*agent)->serve();
  else
    outcome = std::move(agent).error();
  // The agent is gone (its container's root unmounted, cgroup removed), and
  // with the stream closed its host no longer waits for it either: it has
  // said its verdict before the shutdown, says it now, or died.
  control.reset();
  char c = 0;
  ssize_t n;
  do {
    n = ::read(verdict.get(), &c, 1);
  } while (n < 0 && errno == EINTR);
  while (::waitpid(host, nullptr, 0) < 0 && errno == EINTR) {
  }
  // Cut short (the host's alarm, an error), its container's process was
  // killed as the Agent went, without a wait: its cgroup was still in use
  // when the Agent removed it. Removed here once the process is gone, so
  // that the unit keeps nothing of the rehearsal; gone already after a run
  // that went through.
  if (!config.cgroup_root.empty())
    remove_cgroup_once_empty(config.cgroup_root + "/" + cgroup_name(req.container_id));
  if (!outcome.ok()) return std::move(outcome).error().wrap("the rehearsal's agent");
  if (n != 1 || c != 'y') return make_error("the rehearsal's container did not run and exit 0");
  return {};
}

}  // namespace

void rehearse_container(const RootConfig& config, const std::string& agent_binary) {
  Status st;
  {
    // Its container's phases are the rehearsal's, not a claimed container's.
    trace::Prefix prefix("rehearsal");
    st = rehearse(config, agent_binary);
  }
  if (!st.ok()) log_line("rehearsal: " + st.error().message);
  trace::mark("rehearsed");
}

}  // namespace runvm::agent
