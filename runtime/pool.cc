#include "runtime/pool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string_view>
#include <thread>

#include "runtime/assets.h"
#include "runtime/host_procs.h"
#include "runtime/network_namespace.h"
#include "runtime/released_cgroup.h"
#include "runtime/shim_launcher.h"
#include "spec/base/atomic_file.h"
#include "spec/base/log.h"
#include "spec/cgroup/cgroup.h"
#include "spec/proc_start_time.h"
#include "spec/vm_annotations.h"
#include "spec/vm_sizing.h"

namespace runvm::cli::pool {

namespace {

constexpr char kPoolCgroup[] = "/runvm-pool";

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// A file's identity: a rebuilt or replaced binary is another class.
std::string identity(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return path + ":missing";
  return path + ":" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

Result<std::string> self_exe() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return make_error("cannot locate runvm itself: " + ec.message());
  return exe.string();
}

// A detached unit, watcher or fill leaves the caller's cgroup (conmon's, a
// CI job's, a claimed container's) for /runvm-pool in every hierarchy, so
// that it neither keeps that cgroup alive nor is killed or limited with it.
// cgroup v2: <cgroup root>/runvm-pool; v1 (and hybrid): that path in each
// mounted hierarchy, as cgroupfs would make a container's. In the child,
// before exec; best effort.
void leave_caller_cgroup() {
  if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
    mkdir("/sys/fs/cgroup/runvm-pool", 0755);
    int fd = open("/sys/fs/cgroup/runvm-pool/cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    [[maybe_unused]] auto w = write(fd, "0", 1);
    close(fd);
    return;
  }
  auto layout = cgroup::detect_layout();
  if (!layout.ok()) return;
  auto pool = cgroup::Cgroup::resolve(*layout, kPoolCgroup);
  if (!pool.ok() || !pool->create().ok()) return;
  // Each hierarchy on its own: one that refuses leaves the others moved.
  for (const auto& d : pool->dirs()) {
    int fd = open((d.path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    [[maybe_unused]] auto w = write(fd, "0", 1);
    close(fd);
  }
}

// Closes every descriptor from 3 up but `a` and `b` (-1: none).
void close_all_but(int a, int b) {
  int keep[2] = {std::min(a, b), std::max(a, b)};
  unsigned from = 3;
  for (int k : keep) {
    if (k < static_cast<int>(from)) continue;
    if (static_cast<unsigned>(k) > from) close_range(from, static_cast<unsigned>(k) - 1, 0);
    from = static_cast<unsigned>(k) + 1;
  }
  close_range(from, ~0U, 0);
}

// The parent pid of `pid`; an error saying why /proc could not tell.
Result<pid_t> parent_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("read " + path);
  char buf[512];
  ssize_t n = read(fd.get(), buf, sizeof buf - 1);
  if (n < 0) return errno_error("read " + path);
  std::string_view stat(buf, static_cast<size_t>(std::max<ssize_t>(n, 0)));
  size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos || paren + 4 >= stat.size())
    return make_error(path + ": no parent pid in it");
  return static_cast<pid_t>(atoi(std::string(stat.substr(paren + 4)).c_str()));
}

// A session is a scheduler autogroup of its own (sched(7), on by default):
// CFS weighs the group as one task of the group's niceness against the
// claimer's, whatever its processes' own niceness is. A unit booting at
// nice 19 in a nice-0 group took half of a 2-core host from the container
// just claimed (a warm `run true` ~1.7x slower). "self" or a pid.
std::optional<int> autogroup_nice(const std::string& pid) {
  UniqueFd fd(open(("/proc/" + pid + "/autogroup").c_str(), O_RDONLY | O_CLOEXEC));
  char buf[128];
  ssize_t n = fd ? read(fd.get(), buf, sizeof buf - 1) : -1;
  if (n <= 0) return std::nullopt;
  buf[n] = 0;
  const char* at = strstr(buf, " nice ");  // "/autogroup-42 nice 0"
  if (!at) return std::nullopt;
  return atoi(at + 6);
}

// Best effort: without autogroups (or, below 0, the privilege) it stays.
// Without CAP_SYS_ADMIN the kernel takes one autogroup write per 100 ms
// host-wide (EAGAIN otherwise): one more try after that. False if it was
// refused; true too without autogroups (nothing to weigh).
bool set_autogroup_nice(const std::string& pid, int nice) {
  UniqueFd fd(open(("/proc/" + pid + "/autogroup").c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno == ENOENT || errno == ESRCH;
  std::string v = std::to_string(nice);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (write(fd.get(), v.data(), v.size()) == static_cast<ssize_t>(v.size())) return true;
    if (errno != EAGAIN) return false;
    usleep(110 * 1000);
  }
  return false;
}

constexpr int kAdopted = ECHILD;  // spawn_detached's error: a subreaper adopted it

// Runs `argv` as a grandchild in a session of its own with /dev/null as
// stdio (so no caller waits on it, and no terminal's signals reach it);
// `keep_fd` stays open across its exec; `nice`: added to its niceness.
// `unless_adopted`: only if, once its parent (our child) is gone, init
// adopted it, not a subreaper between us and init (conmon, containerd's
// shim): such a one waits for it, and for every unit it boots, before it
// exits. Otherwise it never runs `argv` (error kAdopted).
// Returns its pid.
Result<pid_t> spawn_detached(std::vector<std::string> argv, int keep_fd, int nice = 0,
                             bool unless_adopted = false) {
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return errno_error("open /dev/null");
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return errno_error("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  // `unless_adopted`: the go-ahead, one byte; none (closed) is a no.
  UniqueFd go_rd, go_wr;
  if (unless_adopted) {
    if (pipe2(p, O_CLOEXEC) < 0) return errno_error("pipe");
    go_rd.reset(p[0]);
    go_wr.reset(p[1]);
  }
  pid_t mid = fork();
  if (mid < 0) return errno_error("fork");
  if (mid == 0) {
    setsid();
    pid_t child = fork();
    if (child == 0) {
      if (go_rd) {
        close(go_wr.get());
        char go = 0;
        ssize_t got;
        while ((got = read(go_rd.get(), &go, 1)) < 0 && errno == EINTR) {
        }
        if (got != 1) _exit(0);
      }
      for (int fd = 0; fd <= 2; ++fd) dup2(devnull.get(), fd);
      // Nothing else of the caller's either: a refill started by a claiming
      // `create` under conmon inherits Podman's sync pipes (not
      // close-on-exec), and holding one open for its whole boot kept
      // `podman run` waiting ~200 ms after the container was deleted.
      // Kept: `keep_fd`, and our end of the pipe (close-on-exec): the
      // caller waits for it to close at the exec, so that the process is
      // `argv` once this returns (closed here, it returned before the exec,
      // and a niced child could still be a copy of the caller long after).
      close_all_but(keep_fd, wr.get());
      if (keep_fd > 2) fcntl(keep_fd, F_SETFD, 0);
      if (nice != 0 && ::nice(nice) == -1) {
        // best effort: it boots at our priority then
      }
      // Its new session's autogroup as nice as it is (a refill's: 19).
      errno = 0;
      if (int now = getpriority(PRIO_PROCESS, 0); errno == 0) set_autogroup_nice("self", now);
      leave_caller_cgroup();
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    [[maybe_unused]] auto w = write(wr.get(), &child, sizeof child);
    _exit(child < 0 ? 1 : 0);
  }
  wr.reset();
  go_rd.reset();
  pid_t child = -1;
  ssize_t n;
  while ((n = read(rd.get(), &child, sizeof child)) < 0 && errno == EINTR) {
  }
  bool adopted = false;
  pid_t adopter = -1;
  if (go_wr) {
    // Our child is gone once reaped: its child was adopted at its exit.
    while (waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
    }
    mid = -1;
    // 0: a parent outside our pid namespace, which has none of ours.
    // Unknown (its /proc entry unreadable) counts as a subreaper's: the
    // safe side, as a refill that is not started only waits for the next.
    if (n == sizeof child && child > 0) {
      auto parent = parent_of(child);
      if (!parent.ok())
        log::warn("detached " + argv[0] + ": its parent is unknown (" + parent.error().message +
                  "): taken for a subreaper, it is not run");
      adopter = parent.ok() ? *parent : -1;
    }
    adopted = adopter != 1 && adopter != 0;
    if (!adopted && write(go_wr.get(), "g", 1) != 1) adopted = true;
    go_wr.reset();  // a no, when nothing was written
  }
  // Returns once it ran `argv` (or failed to): the pipe's last end, the
  // grandchild's, closes at its exec. Whoever looks for it then finds it.
  if (n == sizeof child) {
    char c;
    while (read(rd.get(), &c, 1) < 0 && errno == EINTR) {
    }
  }
  while (mid > 0 && waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof child || child <= 0)
    return make_error("fork: the detached process did not start");
  if (adopted)
    return make_error(adopter > 0 ? "a subreaper (pid " + std::to_string(adopter) +
                                        ") would adopt it and wait for it"
                                  : "its parent is unknown: a subreaper may have adopted it",
                      kAdopted);
  return child;
}

std::string read_report(int fd) {
  std::string line;
  char buf[512];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) != 0 && line.size() < 4096;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  while (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

std::string pool_dir_of(const GlobalOptions& g) { return g.root + "/" + kPoolDir; }

std::string new_generation() {
  std::random_device rd;
  char buf[20];
  snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

// The pool's generation token ("" when there is none, or it is unreadable).
std::string read_generation(const std::string& pool_dir) {
  UniqueFd fd(open((pool_dir + "/" + kGenerationFile).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return "";
  char buf[40];
  ssize_t n = read(fd.get(), buf, sizeof buf);
  std::string t = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  return valid_generation(t) ? t : "";
}

// Writes `token` as the generation: whole, under a name of its own, then
// linked (`replace`: renamed) into place, so that no reader sees a torn
// token and two makers without the lock agree on one.
std::string put_generation(const std::string& pool_dir, const std::string& token, bool replace) {
  std::string path = pool_dir + "/" + kGenerationFile;
  std::string tmp = path + "." + std::to_string(getpid()) + "." + new_generation() + ".tmp";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return read_generation(pool_dir);
  bool whole = write(fd.get(), token.data(), token.size()) == static_cast<ssize_t>(token.size());
  fd.reset();
  if (whole && replace) {
    if (rename(tmp.c_str(), path.c_str()) == 0) return token;
  } else if (whole && link(tmp.c_str(), path.c_str()) == 0) {
    unlink(tmp.c_str());
    return token;
  }
  unlink(tmp.c_str());
  return read_generation(pool_dir);  // another maker's
}

// The pool's generation, made (with the pool dir) when there is none.
std::string current_generation(const std::string& pool_dir) {
  std::string t = read_generation(pool_dir);
  if (!t.empty()) return t;
  std::error_code ec;
  std::filesystem::create_directories(pool_dir, ec);
  return put_generation(pool_dir, new_generation(), false);
}

}  // namespace

Result<UniqueFd> lock_pool(const std::string& pool_dir, bool create) {
  std::string path = pool_dir + "/" + kFillLock;
  for (int gone = 0;;) {
    if (create) {
      std::error_code ec;
      std::filesystem::create_directories(pool_dir, ec);
      if (ec) return make_error("mkdir " + pool_dir + ": " + ec.message(), ec.value());
    }
    // Made in a pool dir that exists (its first fill, or a drain, may not
    // have made it yet); the dir itself only when `create`.
    UniqueFd lock(open(path.c_str(), O_RDWR | O_CLOEXEC | O_CREAT, 0600));
    if (!lock && !create && errno == ENOENT) return UniqueFd();
    // A cancelled refill removes the (empty) dir it found: made again. Each
    // retry means one more refill removed it in between, and refills are
    // few, but a loaded host can line several up: the bound only stops a
    // loop if something else keeps removing it.
    if (!lock && create && errno == ENOENT && ++gone < 1000) {
      sched_yield();
      continue;
    }
    if (!lock) return errno_error("open " + path);
    while (flock(lock.get(), LOCK_EX) != 0)
      if (errno != EINTR) return errno_error("lock " + path);
    struct stat held, now;
    if (fstat(lock.get(), &held) != 0) return errno_error("stat " + path);
    if (stat(path.c_str(), &now) == 0 && now.st_dev == held.st_dev && now.st_ino == held.st_ino)
      return lock;
    if (!create) return UniqueFd();  // the pool was drained away
  }
}

namespace {

// `runvm <g's options> <args...>`: this binary with the caller's root,
// config, log and debug.
Result<std::vector<std::string>> self_argv(const GlobalOptions& g,
                                           std::initializer_list<std::string> args) {
  std::vector<std::string> argv = {RUNVM_TRY(self_exe()), "--root", g.root};
  if (!g.config_path.empty()) argv.insert(argv.end(), {"--config", g.config_path});
  if (!g.log.empty()) argv.insert(argv.end(), {"--log", g.log});
  if (g.debug) argv.push_back("--debug");
  argv.insert(argv.end(), args);
  return argv;
}

// `runvm pool watch <unit>` (pool_watch.cc), detached as the unit's shim
// is: a descendant of this fill, so of no claimer. At the lowest priority:
// it only waits. Best effort: without it, the claiming create refills.
void start_watcher(const GlobalOptions& g, const Unit& u, const ContainerDir& dir) {
  auto argv = self_argv(g, {"pool", "watch", u.rel()});
  auto pid = argv.ok() ? spawn_detached(std::move(*argv), -1, 19) : Result<pid_t>(argv.error());
  if (!pid.ok()) return log::warn("pool unit " + u.rel() + ": watcher: " + pid.error().message);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  UnitRecord w{*pid, oci::process_start_time(*pid).value_or(0),
               std::chrono::duration_cast<std::chrono::seconds>(now).count()};
  Status s = write_file_atomic(dir.file(kWatcherFile), format_unit_record(w), false);
  if (!s.ok()) {
    kill(*pid, SIGKILL);
    log::warn("pool unit " + u.rel() + ": watcher: " + s.error().message);
  }
}

// Boots one unit of class `c` and waits until its VM is up.
Status start_unit(const GlobalOptions& g, const UnitClass& c, bool watcher,
                  const std::string& generation) {
  std::string cls = c.name();
  std::string class_dir = g.root + "/" + kPoolDir + "/" + cls;
  if (mkdir(class_dir.c_str(), 0711) != 0 && errno != EEXIST)
    return errno_error("mkdir " + class_dir);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  char name[40];
  snprintf(name, sizeof name, "u%llx",
           static_cast<unsigned long long>(
               std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
  Unit u{g.root, cls, name, std::nullopt, UnitState::kStarting, "", 0};
  ContainerDir dir = u.dir();
  RUNVM_TRY(dir.create());  // its lock file is unused: the owner file decides
  std::vector<std::string> argv = {c.shim,          "--pool",
                                   "--state-dir",   dir.path(),
                                   "--socket-dir",  dir.socket_dir(),
                                   "--kernel",      c.kernel,
                                   "--initrd",      c.initrd,
                                   "--qemu",        c.qemu,
                                   "--log",         dir.file(layout::kShimLog),
                                   "--memory",      std::to_string(c.memory_mib),
                                   "--vcpus",       std::to_string(c.vcpus),
                                   "--accel",       c.accel,
                                   "--tcg-tb-size", std::to_string(c.tcg_tb_size)};
  if (g.debug) argv.push_back("--debug");
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    Error e = errno_error("pipe");
    (void)dir.remove();
    return e;
  }
  UniqueFd rd(p[0]), wr(p[1]);
  argv.insert(argv.end(), {"--ready-fd", std::to_string(wr.get())});
  auto pid = spawn_detached(std::move(argv), wr.get());
  wr.reset();
  if (!pid.ok()) {
    (void)dir.remove();
    return std::move(pid).error();
  }
  UnitRecord r{*pid, oci::process_start_time(*pid).value_or(0),
               std::chrono::duration_cast<std::chrono::seconds>(now).count()};
  Status s = write_file_atomic(dir.file(kUnitFile), format_unit_record(r), false);
  std::string report = read_report(rd.get());
  if (s.ok() && report != "created")
    s = make_error(report.rfind("error: ", 0) == 0
                       ? report.substr(7)
                       : "the pool unit's shim exited before reporting");
  if (s.ok() && !generation.empty())
    s = write_file_atomic(dir.file(kGenerationFile), generation, false);
  // Its watcher, before it can be claimed: so a claiming create always
  // finds it (and leaves the refill to it). Without one, create refills.
  if (s.ok() && watcher) start_watcher(g, u, dir);
  if (s.ok()) s = write_file_atomic(dir.file(kReadyFile), "", false);
  if (!s.ok()) {
    u.record = r;
    remove_unit(u, std::chrono::seconds(0));
    return std::move(s).error().wrap("pool unit");
  }
  log::debug("pool unit " + u.rel() + " up");
  return {};
}

}  // namespace

std::string UnitClass::name() const {
  std::string all = std::to_string(memory_mib) + "|" + std::to_string(vcpus) + "|" + accel + "|" +
                    std::to_string(tcg_tb_size) + "|" + identity(kernel) + "|" + identity(initrd) +
                    "|" + identity(qemu) + "|" + identity(shim);
  if (auto self = self_exe(); self.ok()) all += "|" + identity(*self);
  char buf[80];
  snprintf(buf, sizeof buf, "%llum-%uc-%016llx", static_cast<unsigned long long>(memory_mib), vcpus,
           static_cast<unsigned long long>(fnv1a(all)));
  return buf;
}

Result<UnitClass> configured_class(const GlobalOptions& g) {
  const config::VmDefaults& vm = g.config.vm;
  auto assets = RUNVM_TRY(find_guest_assets("", "", "", {vm.kernel, vm.initrd, vm.qemu}));
  UnitClass c;
  c.memory_mib = vm.memory_mib;
  c.vcpus = vm.vcpus;
  c.accel = vm.accel;
  c.tcg_tb_size = vm.tcg_tb_size;
  c.kernel = assets.kernel;
  c.initrd = assets.initrd;
  c.qemu = assets.qemu;
  c.shim = RUNVM_TRY(find_shim_binary());
  return c;
}

std::string cold_reason(const GlobalOptions& g, const UnitClass& pool, const oci::Config& config,
                        int netns_fd, int preserve_fds) {
  if (g.config.pool.size == 0) return "the pool is off";
  auto settings = oci::parse_vm_annotations(config.annotations);
  if (!settings.ok()) return settings.error().message;
  if (settings->accel || !settings->kernel_cmdline.empty())
    return "runvm.io/accel or runvm.io/kernel-cmdline";
  auto size = oci::size_vm(config, {g.config.vm.memory_mib, g.config.vm.vcpus});
  if (!size.ok()) return size.error().message;
  if (size->memory_mib != pool.memory_mib || size->vcpus != pool.vcpus)
    return "its VM size is not the pool's";
  const auto& linux_ = config.linux_;
  if (linux_ && linux_->resources && linux_->resources->cpu &&
      !linux_->resources->cpu->cpus.empty())
    return "a cpuset (QEMU's vCPU threads are pinned at boot)";
  // A unit's VM has one NIC, whose tap moves into the container's network
  // namespace at the claim (shim/net/pool_nic.h): a namespace joined by
  // path with one Ethernet interface (a Podman or CNI network) or none
  // (--network none) is served, as are the host's network and a fresh
  // namespace (loopback only). More interfaces take the cold path.
  if (netns_fd >= 0) {
    auto nics = netns_ethernet_count(netns_fd);
    if (!nics.ok()) return nics.error().message;
    if (*nics > 1) return "its network namespace has more than one interface (a unit has one NIC)";
  }
  if (preserve_fds > 0) return "--preserve-fds";
  // A systemd scope is started for one pid (the shim's, at exec); a unit's
  // shim and QEMU run already.
  if (g.systemd_cgroup && linux_ && !linux_->cgroups_path.empty()) return "--systemd-cgroup";
  return "";
}

bool valid_generation(std::string_view token) {
  return !token.empty() && token.size() <= 32 &&
         std::all_of(token.begin(), token.end(),
                     [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); });
}

Result<FillReport> fill(const GlobalOptions& g, bool watchers,
                        const std::optional<std::string>& refill_of) {
  FillReport report;
  std::string pool_dir = pool_dir_of(g);
  UniqueFd lock = RUNVM_TRY(lock_pool(pool_dir, !refill_of));
  std::string generation = read_generation(pool_dir);
  if (refill_of && (!lock || generation != *refill_of)) {
    log::debug("pool refill: the pool was drained since it was asked for; booting nothing");
    // No generation: a drain that emptied the pool is removing its dir (it
    // unlinked the generation, then the lock, then rmdirs). The lock this
    // refill made again there in between goes too, and the dir once empty,
    // as the drain leaves them: nothing of the pool is left after it.
    if (lock && generation.empty()) {
      unlink((pool_dir + "/" + kFillLock).c_str());
      rmdir(pool_dir.c_str());
    }
    report.cancelled = true;
    return report;
  }
  if (generation.empty()) generation = put_generation(pool_dir, new_generation(), true);
  UnitClass c = RUNVM_TRY(configured_class(g));
  std::string cls = c.name();
  uint64_t max_age = g.config.pool.max_idle_seconds;
  uint64_t live = 0;
  for (const Unit& u : list_units(g.root)) {
    bool owner_exists = validate_id(u.owner).ok() && ContainerDir(g.root, u.owner).exists();
    FillAction what = fill_action(u, cls, max_age, owner_exists);
    if (what == FillAction::kRemoveOrphan || (what == FillAction::kDrain && take(u, kDrainOwner))) {
      remove_unit(u, std::chrono::seconds(2));
      ++report.drained;
      continue;
    }
    if (u.cls != cls || (u.state != UnitState::kIdle && u.state != UnitState::kBooting)) continue;
    // Beyond [pool] size (it was lowered): drained, not kept booted.
    if (live >= g.config.pool.size && u.state == UnitState::kIdle && take(u, kDrainOwner)) {
      remove_unit(u, std::chrono::seconds(2));
      ++report.drained;
      continue;
    }
    // One booted by a create's fill (or whose watcher was killed) gets its
    // watcher from a fill run outside: from then on its refills are too.
    if (watchers && u.state == UnitState::kIdle && !u.watcher_alive()) start_watcher(g, u, u.dir());
    ++live;
  }
  for (; live < g.config.pool.size; ++live) {
    RUNVM_CHECK(start_unit(g, c, watchers, generation));
    ++report.started;
  }
  report.idle = static_cast<int>(live);
  return report;
}

int drain(const GlobalOptions& g, std::chrono::milliseconds released_wait,
          std::chrono::milliseconds term_grace) {
  int n = 0;
  std::string pool_dir = pool_dir_of(g);
  // After a fill that is booting units: it would count one drained under
  // it as claimed and boot another.
  auto locked = lock_pool(pool_dir, false);
  // First: a refill asked for before this drain boots nothing after it
  // (fill(), refill_of), even one still waiting for the lock.
  if (locked.ok() && *locked) put_generation(pool_dir, new_generation(), true);
  std::vector<Unit> released, removed;
  for (Unit& u : list_units(g.root)) {
    bool owner_exists = validate_id(u.owner).ok() && ContainerDir(g.root, u.owner).exists();
    bool abandoned =
        !u.owner.empty() && fill_action(u, u.cls, 0, owner_exists) == FillAction::kRemoveOrphan;
    // Released: its container was deleted and its VM is ending on its own
    // (runvm-pool(8)); a drain returns once it ended, so that nothing of the
    // pool outlives it, ending it itself if it takes too long.
    if (!abandoned && !u.owner.empty() && u.released_s >= 0 && !owner_exists) {
      released.push_back(std::move(u));
      continue;
    }
    if (!abandoned && (!u.owner.empty() || !take(u, kDrainOwner))) continue;  // a container's
    removed.push_back(std::move(u));
  }
  // All at once, under one deadline each time: one at a time, each stuck
  // unit would add a wait of its own, all of it holding the fill lock.
  std::vector<const Unit*> ending;
  for (const Unit& u : removed) ending.push_back(&u);
  remove_units(ending, term_grace);
  n += static_cast<int>(ending.size());
  ending.clear();
  for (const Unit& u : released) ending.push_back(&u);
  wait_all_gone(ending, released_wait);
  // Its shim removes its dir as it ends; one that was killed left it.
  std::erase_if(ending, [](const Unit* u) { return !u->alive() && !u->dir().exists(); });
  remove_units(ending, term_grace);
  n += static_cast<int>(ending.size());
  // Nothing of the pool is left once no container holds a unit.
  if (list_units(g.root).empty()) {
    unlink((pool_dir + "/" + kGenerationFile).c_str());
    unlink((pool_dir + "/" + kFillLock).c_str());
    // Class dirs a unit's shim emptied itself (a claimed unit ends after its
    // container's delete returned: runvm-pool(8)); rmdir leaves any other.
    if (DIR* d = opendir(pool_dir.c_str())) {
      std::vector<std::string> names;
      while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') names.push_back(e->d_name);
      closedir(d);
      for (const auto& n : names) rmdir((pool_dir + "/" + n).c_str());
    }
    rmdir(pool_dir.c_str());
    rmdir((g.root + "/" + layout::kSocketsDir).c_str());  // when empty: a container's keep it
  }
  sweep_released_cgroups();  // of units that ended since their release
  return n;
}

void fill_in_background(const GlobalOptions& g, std::string generation, bool from_claimer) {
  if (generation.empty()) generation = current_generation(pool_dir_of(g));
  if (!valid_generation(generation))
    return log::warn("pool refill: the pool's generation cannot be made");
  auto argv = self_argv(g, {"pool", "fill", "--refill", generation});
  if (!argv.ok()) return log::warn("pool refill: " + argv.error().message);
  // At the lowest priority: it boots a VM beside the container that was
  // just started from the pool, on the same CPUs, and must not slow it
  // (claim_unit_priority() gives a claimed unit the claimer's niceness).
  auto pid = spawn_detached(*argv, -1, 19, from_claimer);
  if (pid.ok() || pid.error().code != kAdopted)
    return pid.ok() ? void() : log::warn("pool refill: " + pid.error().message);
  // A claimer's caller is a subreaper (conmon): it would wait for the fill
  // and for every unit it boots, until they are claimed and end. systemd
  // (when it is init) runs it outside that tree instead; without it there
  // is no refill (`runvm pool fill` from outside fills the pool).
  struct stat st;
  if (stat("/run/systemd/system", &st) != 0) {
    return log::debug("pool refill: not started: " + pid.error().message +
                      "; no systemd to start it outside (run `runvm pool fill`)");
  }
  std::vector<std::string> run = {"/usr/bin/systemd-run", "--quiet",   "--collect",
                                  "--no-block",           "--nice=19", "--"};
  run.insert(run.end(), argv->begin(), argv->end());
  if (access(run[0].c_str(), X_OK) != 0) run[0] = "/bin/systemd-run";
  // systemd-run itself exits as soon as systemd queued the fill: the
  // subreaper waits for that moment only.
  if (auto started = spawn_detached(std::move(run), -1); !started.ok())
    log::warn("pool refill: systemd-run: " + started.error().message);
}

void refill_after_claim(const GlobalOptions& g, const Unit& u) {
  // Its watcher runs the refill outside our process tree: a subreaper
  // calling us (conmon) would adopt one started here and wait for it.
  if (u.watcher_alive()) return log::debug("pool unit " + u.rel() + ": its watcher refills");
  // No watcher (it could not start, or was killed): unless it took the
  // refill before it went, it is ours.
  if (take_refill(u)) fill_in_background(g, u.generation, true);
}

void claim_unit_priority(const std::vector<pid_t>& procs) {
  errno = 0;
  int ours = getpriority(PRIO_PROCESS, 0);
  if (errno != 0) return;
  // Its session's autogroup (spawn_detached) weighs as the claimer's does.
  if (auto group = autogroup_nice("self"))
    for (pid_t pid : procs)
      if (!set_autogroup_nice(std::to_string(pid), *group))
        log::warn("pool unit process " + std::to_string(pid) +
                  ": its scheduler group keeps a refill's niceness (" + std::strerror(errno) + ")");
  // Niceness is per thread on Linux: every thread of the shim and QEMU.
  for (pid_t pid : procs) {
    DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
    if (!d) continue;
    while (dirent* e = readdir(d))
      if (int tid = atoi(e->d_name); tid > 0) setpriority(PRIO_PROCESS, tid, ours);
    closedir(d);
  }
}

void end_claimed_unit(const GlobalOptions& g, const std::string& rel) {
  auto claimed = read_claimed_unit(g.root, rel);
  if (!claimed) return;
  const Unit& u = *claimed;
  // Its relay is gone: the unit's shim kills the container, shuts the VM
  // down and removes its dirs; under TCG well within this.
  if (!u.wait_gone(std::chrono::seconds(15)))
    log::warn("pool unit " + rel + ": did not end with its container; killing it");
  remove_unit(u, std::chrono::seconds(0));
}

}  // namespace runvm::cli::pool
