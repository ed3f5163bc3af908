#include "guest/agent/rehearsal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/agent/container_cgroup.h"
#include "guest/agent/init.h"
#include "guest/agent/pid_namespace.h"
#include "guest/agent/process_init.h"
#include "guest/agent/process_io.h"
#include "guest/agent/process_security.h"
#include "guest/agent/trace.h"

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

// The scratch root: a tmpfs with /etc/passwd and the agent bound on `bin`.
class ScratchRoot {
 public:
  explicit ScratchRoot(std::string dir) : dir_(std::move(dir)) {}
  ~ScratchRoot() {
    if (bound_) ::umount2((dir_ + "/bin/runvm-agent").c_str(), MNT_DETACH);
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    ::rmdir(dir_.c_str());
  }
  ScratchRoot(const ScratchRoot&) = delete;
  ScratchRoot& operator=(const ScratchRoot&) = delete;

  Status make(const std::string& agent_binary) {
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) return errno_error("mkdir " + dir_);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") != 0)
      return errno_error("mount tmpfs on " + dir_);
    mounted_ = true;
    for (const char* d : {"/bin", "/etc"})
      if (::mkdir((dir_ + d).c_str(), 0755) != 0) return errno_error(std::string("mkdir ") + d);
    RUNVM_CHECK(write_file(dir_ + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"));
    std::string bin = dir_ + "/bin/runvm-agent";
    RUNVM_CHECK(write_file(bin, ""));
    if (::mount(agent_binary.c_str(), bin.c_str(), nullptr, MS_BIND | MS_RDONLY, nullptr) != 0)
      return errno_error("binding " + agent_binary);
    bound_ = true;
    return {};
  }
  const std::string& path() const { return dir_; }

 private:
  static Status write_file(const std::string& path, std::string_view content) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755));
    if (!fd) return errno_error("creating " + path);
    if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
      return errno_error("writing " + path);
    return {};
  }
  std::string dir_;
  bool mounted_ = false, bound_ = false;
};

Status rehearse(const RootConfig& config, const std::string& agent_binary) {
  ScratchRoot root(config.root_dir + "/.rehearsal");
  RUNVM_CHECK(root.make(agent_binary));
  const proto::Create req = rehearsal_request("/bin/runvm-agent");
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
