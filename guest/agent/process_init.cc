#include "guest/agent/process_init.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "guest/agent/container_cgroup.h"
#include "guest/agent/container_devices.h"
#include "guest/agent/container_mounts.h"
#include "guest/agent/kernel_settings.h"
#include "guest/agent/look_path.h"
#include "guest/agent/passwd.h"
#include "guest/agent/process_sched.h"
#include "guest/agent/trace.h"
#include "spec/base/unique_fd.h"
#include "spec/rlimit_names.h"

namespace runvm::agent {
namespace {

void send_failure(int sync_fd, uint8_t exit_code, std::string_view message) {
  std::string msg(1, init_sync::kFailed);
  msg.push_back(static_cast<char>(exit_code));
  msg.append(message.substr(0, init_sync::kMaxMessage));
  ::send(sync_fd, msg.data(), msg.size(), MSG_NOSIGNAL);
}

[[noreturn]] void fail(int sync_fd, const Error& e) {
  uint8_t code = e.code == kExitNotFound || e.code == kExitNotExecutable ? e.code : 1;
  send_failure(sync_fd, code, e.message);
  _exit(code);
}

// The agent blocks SIGCHLD (for its signalfd) and may ignore others: none of
// that belongs to the container.
void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
}

Status setup_stdio(const InitPlan& plan) {
  if (::setsid() < 0) return errno_error("setsid");
  // Lift the sources above 2 first so no dup2 clobbers a later source.
  int high[3];
  for (int i = 0; i < 3; ++i) {
    high[i] = ::fcntl(plan.stdio[i], F_DUPFD_CLOEXEC, 3);
    if (high[i] < 0) return errno_error("dup stdio");
  }
  for (int i = 0; i < 3; ++i)
    if (::dup2(high[i], i) < 0) return errno_error("dup2 stdio");
  if (plan.terminal && ::ioctl(0, TIOCSCTTY, 0) < 0)
    return errno_error("setting the controlling terminal");
  // Nothing of the agent's may leak into the container.
  if (::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    return errno_error("close_range");
  return {};
}

// pivot_root into the prepared root; from the initramfs (rootfs cannot be
// pivoted away from) fall back to moving the root over / and chroot, as
// switch_root does. Either way in our own mount namespace.
Status enter_root(const std::string& root) {
  if (::unshare(CLONE_NEWNS) < 0) return errno_error("unshare mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
    return errno_error("making / private");
  if (::chdir(root.c_str()) < 0) return errno_error("chdir " + root);
  if (::syscall(SYS_pivot_root, ".", ".") == 0) {
    // The old root is stacked under the new one: detach it.
    if (::umount2(".", MNT_DETACH) < 0) return errno_error("detaching the old root");
  } else if (errno == EINVAL) {
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) < 0) return errno_error("moving the root");
    if (::chroot(".") < 0) return errno_error("chroot");
  } else {
    return errno_error("pivot_root");
  }
  if (::chdir("/") < 0) return errno_error("chdir /");
  return {};
}

// setns into the mount namespace of the process of `pidfd`: our root and
// cwd become the namespace's root, which is the container's (pivoted or
// moved over /). A pidfd, not /proc/<pid>/ns/mnt: /proc may belong to
// another pid namespace.
Status join_root(int pidfd) {
  int r = ::setns(pidfd, CLONE_NEWNS);
  int e = errno;
  if (r < 0)
    return make_error(std::string("joining the container's mount namespace: ") + std::strerror(e),
                      e);
  if (::chdir("/") < 0) return errno_error("chdir /");
  return {};
}

// mkdir -p inside the container root, as root (runc creates a missing cwd).
Status make_cwd(const std::string& cwd) {
  for (size_t i = 1; i <= cwd.size(); ++i) {
    if (i != cwd.size() && cwd[i] != '/') continue;
    std::string prefix = cwd.substr(0, i);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      return errno_error("mkdir " + prefix);
  }
  return {};
}

// runc sets HOME from the user's passwd entry when the env has none (or an
// empty one). A passwd it cannot open is none (runc's default, "/"); one it
// cannot read fails, with runc's context. runc reads the file even when the
// env has a HOME, and fails then too: not done here, where it would cost
// every create the reads of init_home (4.5 ms under TCG) for files runc
// refuses anyway.
Result<std::string> home_of(uint32_t uid) {
  UniqueFd passwd(::open("/etc/passwd", O_RDONLY | O_CLOEXEC));
  if (!passwd) return std::string("/");
  return home_from_passwd(passwd.get(), uid).context("unable to find user " + std::to_string(uid));
}

Status set_identity(const proto::User& user) {
  if (::setgroups(user.additional_gids.size(),
                  reinterpret_cast<const gid_t*>(user.additional_gids.data())) < 0)
    return errno_error("setgroups");
  if (::setresgid(user.gid, user.gid, user.gid) < 0) return errno_error("setresgid");
  if (::setresuid(user.uid, user.uid, user.uid) < 0) return errno_error("setresuid");
  ::umask(user.umask);
  return {};
}

// Everything up to "ready"; returns the resolved executable.
Result<std::string> prepare(const InitPlan& plan, std::vector<std::string>& env) {
  const proto::Create& req = *plan.request;
  const proto::Process& proc = req.process;
  if (plan.before_join) plan.before_join();
  RUNVM_CHECK(setup_stdio(plan));
  trace::mark("init_stdio");
  // While the agent's cgroup mount is still in view.
  RUNVM_CHECK(enter_cgroup(plan.cgroup_dir));
  trace::mark("init_cgroup");
  if (plan.join_pid > 0) {
    RUNVM_CHECK(join_root(plan.join_pidfd));
  } else {
    open_dentry_cache_control();
    RUNVM_CHECK(enter_root(plan.root));
    trace::mark("init_root");
    const proto::LinuxSpec& lx = req.linux_spec;
    RUNVM_CHECK(apply_mounts(lx.mounts, plan.mount_sources, plan.pts_tree));
    trace::mark("init_mounts");
    // stdin is the pty slave by now.
    RUNVM_CHECK(populate_dev("", lx.devices, lx.mounts, plan.terminal ? 0 : -1));
    RUNVM_CHECK(finish_dev(lx.mounts));
    trace::mark("init_dev");
    // As runc: last, on the container's "/" (and below it for r*); until
    // here everything is private (enter_root).
    if (unsigned long p = propagation_flags(lx.rootfs_propagation);
        p != 0 && ::mount(nullptr, "/", nullptr, p, nullptr) < 0)
      return errno_error("linux.rootfsPropagation");
    RUNVM_CHECK(make_cwd(proc.cwd));
    trace::mark("init_cwd");
    if (req.rootfs.readonly &&
        ::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) < 0)
      return errno_error("remounting the root read-only");
    // As runc: read-only paths first, so a masked path inside one still works.
    RUNVM_CHECK(make_readonly_paths(lx.readonly_paths));
    RUNVM_CHECK(mask_paths(lx.masked_paths));
    trace::mark("init_paths");
    if (!req.hostname.empty() && ::sethostname(req.hostname.data(), req.hostname.size()) < 0)
      return errno_error("sethostname");
    if (!lx.domainname.empty() && ::setdomainname(lx.domainname.data(), lx.domainname.size()) < 0)
      return errno_error("setdomainname");
  }
  for (const auto& [resource, limit] : plan.rlimits)
    if (::setrlimit(resource, &limit) < 0) return errno_error("setrlimit");
  if (proc.oom_score_adj) RUNVM_CHECK(set_oom_score_adj(*proc.oom_score_adj));
  // While root: raising priorities needs CAP_SYS_NICE / CAP_SYS_ADMIN.
  if (proc.io_priority) RUNVM_CHECK(apply_io_priority(*proc.io_priority));
  if (proc.scheduler) RUNVM_CHECK(apply_scheduler(*proc.scheduler));
  if (proc.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return errno_error("prctl(PR_SET_NO_NEW_PRIVS)");
  // Without no_new_privs loading needs CAP_SYS_ADMIN: do it while root (runc).
  if (plan.seccomp && !proc.no_new_privileges) RUNVM_CHECK(plan.seccomp->load());
  // runc's test is Getenv("HOME") == "": an empty HOME is replaced too,
  // where it stands (the host made the keys unique: oci::effective_env).
  if (env_value(env, "HOME").empty()) {
    std::string home = "HOME=" + RUNVM_TRY(home_of(proc.user.uid));
    auto it = std::find_if(env.begin(), env.end(),
                           [](const std::string& kv) { return kv.starts_with("HOME="); });
    if (it != env.end())
      *it = std::move(home);
    else
      env.push_back(std::move(home));
  }
  trace::mark("init_home");
  // As runc: into the cwd while still privileged, so a directory the
  // process's user (or root without CAP_DAC_OVERRIDE) cannot enter works;
  // only a permission error gets a second try as that user.
  bool in_cwd = ::chdir(proc.cwd.c_str()) == 0;
  if (!in_cwd && errno != EACCES && errno != EPERM)
    return errno_error("chdir to cwd (\"" + proc.cwd + "\") set in config.json failed");
  if (plan.capabilities) RUNVM_CHECK(apply_bounding_set(*plan.capabilities));
  RUNVM_CHECK(set_identity(proc.user));
  if (plan.capabilities) RUNVM_CHECK(apply_capabilities(*plan.capabilities));
  trace::mark("init_identity");
  if (!in_cwd && ::chdir(proc.cwd.c_str()) < 0)
    return errno_error("chdir to cwd (\"" + proc.cwd + "\") set in config.json failed");
  return look_path(proc.args[0], env_value(env, "PATH"));
}

// Blocks until the agent says start. false: the agent went away.
bool wait_for_start(int sync_fd) {
  char c = 0;
  ssize_t n;
  do {
    n = ::recv(sync_fd, &c, 1, 0);
  } while (n < 0 && errno == EINTR);
  return n == 1 && c == init_sync::kStart;
}

std::vector<char*> c_strings(std::vector<std::string>& items) {
  std::vector<char*> out;
  for (auto& s : items) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<int> rlimit_resource(std::string_view name) {
  if (auto resource = oci::rlimit_from_name(name)) return *resource;
  return make_error("unknown rlimit \"" + std::string(name) + "\"");
}

void run_container_init(const InitPlan& plan) {
  reset_signals();
  std::vector<std::string> env = plan.request->process.env;
  auto path = prepare(plan, env);
  if (!path.ok()) fail(plan.sync_fd, path.error());
  trace::mark("init_ready");
  const char ready = init_sync::kReady;
  if (::send(plan.sync_fd, &ready, 1, MSG_NOSIGNAL) != 1 || !wait_for_start(plan.sync_fd)) _exit(1);
  std::vector<std::string> args = plan.request->process.args;
  auto argv = c_strings(args);
  auto envp = c_strings(env);
  // As close to execve as possible, so profiles need allow little of ours.
  if (plan.seccomp && plan.request->process.no_new_privileges) {
    Status loaded = plan.seccomp->load();
    if (!loaded.ok()) fail(plan.sync_fd, loaded.error());
  }
  ::execve(path->c_str(), argv.data(), envp.data());
  int e = errno;
  fail(plan.sync_fd, make_error("exec " + *path + ": " + std::strerror(e),
                                e == ENOENT ? kExitNotFound : kExitNotExecutable));
}

}  // namespace runvm::agent
