#include "guest/agent/rehearsal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "guest/agent/container_cgroup.h"
#include "guest/agent/init.h"
#include "guest/agent/pid_namespace.h"
#include "guest/agent/process_init.h"
#include "guest/agent/process_io.h"
#include "guest/agent/process_security.h"
#include "guest/agent/trace.h"
#include "spec/base/temp_dir.h"

namespace runvm::agent {
namespace {

// Two steps: at most 5 s in all, well inside the host's 30 s wait for the
// hello (micro_vm.h) on a slow TCG boot; a rehearsal that does not finish
// in time is given up, the unit still serves.
constexpr int kStepTimeoutMs = 2500;

// What `runvm spec` (runc's default spec) asks for, as the host sends it.
proto::Create rehearsal_request(const std::string& binary_in_root) {
  proto::Create req;
  req.container_id = "rehearsal";
  proto::Process& p = req.process;
  p.args = {binary_in_root};
  // No HOME: the process reads /etc/passwd, as `runvm run` of such a spec.
  p.env = {"PATH=/bin", std::string(kRehearsalEnv) + "=1"};
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

// One message on the sync pair, or none within the timeout.
bool await_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, kStepTimeoutMs);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

Result<UniqueFd> create_file(const std::string& path, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return errno_error("creating " + path);
  return fd;
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_error("write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
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
  RUNVM_CHECK(write_all(passwd.get(), "root:x:0:0:root:/root:/bin/sh\n"));
  UniqueFd in(::open(agent_binary.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return errno_error("open " + agent_binary);
  UniqueFd out = RUNVM_TRY(create_file(tree / "bin/runvm-agent", 0755));
  std::vector<char> buf(256 * 1024);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("reading " + agent_binary);
    if (n == 0) break;
    RUNVM_CHECK(write_all(out.get(), std::string_view(buf.data(), static_cast<size_t>(n))));
  }
  return tree;
}

Status rehearse(const RootConfig& config, const std::string& agent_binary) {
  if (config.premounted_dir.empty()) return make_error("no premounted share");
  TempDir tree = RUNVM_TRY(make_scratch_tree(config.premounted_dir, agent_binary));
  const proto::Create req = rehearsal_request("/bin/runvm-agent");
  // Bound from the share as a claimed pod member's root is; unmounted
  // before `tree` goes (declared after it).
  proto::Rootfs rootfs;
  rootfs.tag = config.premounted_tag;
  rootfs.path = tree.path().substr(tree.path().rfind('/') + 1);
  ContainerRoot root = RUNVM_TRY(ContainerRoot::mount(config, req.container_id, rootfs));
  InitPlan plan;
  plan.request = &req;
  plan.root = root.path();
  for (const auto& r : req.process.rlimits)
    plan.rlimits.push_back({RUNVM_TRY(rlimit_resource(r.type)), rlimit{r.soft, r.hard}});
  ProcessSecurity security;
  RUNVM_CHECK(resolve_security(req.process, std::nullopt, security, plan));
  std::optional<ContainerCgroup> cgroup;
  if (!config.cgroup_root.empty()) {
    cgroup.emplace(
        RUNVM_TRY(ContainerCgroup::create(config.cgroup_root, req.container_id, req.linux_spec)));
    plan.cgroup_dir = cgroup->path();
  }
  UniqueFd pts = RUNVM_TRY(ContainerRoot::clone_pts(config));
  plan.pts_tree = pts.get();
  UniqueFd null = RUNVM_TRY(open_null());
  for (int& fd : plan.stdio) fd = null.get();
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return errno_error("socketpair");
  UniqueFd sync(pair[0]), child_sync(pair[1]);
  plan.sync_fd = child_sync.get();
  pid_t pid = RUNVM_TRY(fork_in_pid_namespace({true, 0}));
  if (pid == 0) run_container_init(plan);
  child_sync.reset();
  // ready, start, then EOF at its execve; anything else ends it.
  char c = 0;
  bool ran = await_readable(sync.get()) && ::recv(sync.get(), &c, 1, 0) == 1 &&
             c == init_sync::kReady &&
             ::send(sync.get(), &init_sync::kStart, 1, MSG_NOSIGNAL) == 1 &&
             await_readable(sync.get()) && ::recv(sync.get(), &c, 1, 0) == 0;
  if (!ran) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ran) return make_error("the rehearsal's process did not run");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return make_error("the rehearsal's process failed: status " + std::to_string(status));
  return {};
}

}  // namespace

void rehearse_container(const RootConfig& config, const std::string& agent_binary) {
  if (auto st = rehearse(config, agent_binary); !st.ok())
    log_line("rehearsal: " + st.error().message);
  trace::mark("rehearsed");
}

}  // namespace runvm::agent
