#include "shim/engine/confinement.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace runvm {
namespace {

bool has_effective(cap_t caps, cap_value_t cap) {
  cap_flag_value_t v = CAP_CLEAR;
  return cap_get_flag(caps, cap, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET;
}

// `path` is `dir` or below it.
bool under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.starts_with(dir) && path[dir.size()] == '/');
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

Result<std::string> real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return errno_error("confine: " + path);
  return std::string(buf);
}

// Builds the steps that make the new root, in order.
class Planner {
 public:
  explicit Planner(std::vector<MountStep>& steps) : steps_(steps) {}

  bool covered(const std::string& path) const {
    for (const auto& b : bound_)
      if (under(path, b)) return true;
    return false;
  }

  void bind(const std::string& path, bool dir, bool read_only) {
    if (covered(path)) return;
    make_parents(path);
    steps_.push_back({dir ? MountStep::kDir : MountStep::kFile, path, ""});
    steps_.push_back({read_only ? MountStep::kBindReadOnly : MountStep::kBind, path, path});
    bound_.push_back(path);
    if (dir) made_.push_back(path);
  }

  const std::vector<std::string>& bound() const { return bound_; }

  void symlink(const std::string& path, const std::string& target) {
    make_parents(path);
    steps_.push_back({MountStep::kSymlink, path, target});
    made_.push_back(path);
  }

 private:
  void make_parents(const std::string& path) {
    std::string parent = parent_of(path);
    if (parent == "/") return;
    for (const auto& m : made_)
      if (m == parent) return;
    make_parents(parent);
    steps_.push_back({MountStep::kDir, parent, ""});
    made_.push_back(parent);
  }

  std::vector<MountStep>& steps_;
  std::vector<std::string> bound_;
  std::vector<std::string> made_;
};

// A decimal id, at most UINT32_MAX - 1 ((uid_t)-1 means "unchanged").
bool parse_id(std::string_view s, uint32_t& out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (v >= UINT32_MAX) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

Result<Credentials> resolve_user(const std::string& user) {
  if (user.empty()) return make_error("qemu_user: empty", EINVAL);
  if (user[0] >= '0' && user[0] <= '9') {
    auto colon = user.find(':');
    std::string_view uid_text = std::string_view(user).substr(0, colon);
    uint32_t uid = 0, gid = 0;
    if (!parse_id(uid_text, uid) ||
        (colon != std::string::npos ? !parse_id(std::string_view(user).substr(colon + 1), gid)
                                    : !parse_id(uid_text, gid)))
      return make_error("qemu_user " + user + ": not UID[:GID]", EINVAL);
    return Credentials{uid, gid, {gid}};
  }
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  int err = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (err != 0) return errno_error("qemu_user " + user, err);
  if (!found) return make_error("qemu_user " + user + ": no such user", ENOENT);
  Credentials c{pw.pw_uid, pw.pw_gid, {}};
  int n = 64;
  for (;;) {
    c.groups.resize(static_cast<size_t>(n));
    int want = n;
    if (::getgrouplist(user.c_str(), pw.pw_gid, c.groups.data(), &want) >= 0) {
      c.groups.resize(static_cast<size_t>(want));
      break;
    }
    if (want <= n || want > 65536) return make_error("qemu_user " + user + ": groups", E2BIG);
    n = want;
  }
  return c;
}

PreparedConfinement::PreparedConfinement(PreparedConfinement&& o) noexcept
    : steps_(std::move(o.steps_)),
      staging_(std::move(o.staging_)),
      mount_namespace_(o.mount_namespace_),
      drop_bounding_(o.drop_bounding_),
      user_(std::move(o.user_)),
      empty_(std::exchange(o.empty_, nullptr)),
      max_cap_(o.max_cap_) {}

PreparedConfinement& PreparedConfinement::operator=(PreparedConfinement&& o) noexcept {
  if (this != &o) {
    if (empty_) cap_free(empty_);
    steps_ = std::move(o.steps_);
    staging_ = std::move(o.staging_);
    mount_namespace_ = o.mount_namespace_;
    drop_bounding_ = o.drop_bounding_;
    user_ = std::move(o.user_);
    empty_ = std::exchange(o.empty_, nullptr);
    max_cap_ = o.max_cap_;
  }
  return *this;
}

PreparedConfinement::~PreparedConfinement() {
  if (empty_) cap_free(empty_);
}

Result<PreparedConfinement> prepare_confinement(const ConfinementSpec& spec,
                                                const std::string& program) {
  PreparedConfinement c;
  cap_t now = cap_get_proc();
  if (!now) return errno_error("confine: cap_get_proc");
  c.mount_namespace_ = has_effective(now, CAP_SYS_ADMIN);
  c.drop_bounding_ = has_effective(now, CAP_SETPCAP);
  const bool can_switch = has_effective(now, CAP_SETUID) && has_effective(now, CAP_SETGID);
  cap_free(now);
  if (spec.user && !can_switch)
    return make_error("confine: running QEMU as uid " + std::to_string(spec.user->uid) +
                          " needs CAP_SETUID and CAP_SETGID",
                      EPERM);
  c.user_ = spec.user;
  c.empty_ = cap_init();  // all three sets clear
  if (!c.empty_) return errno_error("confine: cap_init");
  c.max_cap_ = cap_max_bits();
  if (!c.mount_namespace_) return c;

  struct stat st;
  Planner plan(c.steps_);
  // The program's libraries, modules (/usr/lib/<triplet>/qemu) and firmware
  // (/usr/share/qemu, /usr/share/seabios) all live under /usr on a merged-/usr
  // host; on others /lib* and /bin are real directories and bound too.
  if (::stat("/usr", &st) == 0 && S_ISDIR(st.st_mode)) plan.bind("/usr", true, true);
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    if (::lstat(top, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ::readlink(top, target, sizeof target - 1);
      if (n <= 0) return errno_error(std::string("confine: readlink ") + top);
      plan.symlink(top, std::string(target, static_cast<size_t>(n)));
    } else if (S_ISDIR(st.st_mode)) {
      plan.bind(top, true, true);
    }
  }
  // A QEMU installed elsewhere (/opt/qemu/bin/qemu-system-x86_64) finds its
  // modules and firmware relative to its binary: its whole prefix.
  std::string real = RUNVM_TRY(real_path(program));
  std::string prefix = parent_of(parent_of(real));
  if (prefix != "/" && !plan.covered(real)) plan.bind(prefix, true, true);
  // Without it the loader would search only its built-in directories.
  if (::stat("/etc/ld.so.cache", &st) == 0) plan.bind("/etc/ld.so.cache", false, true);
  for (const auto& path : spec.read_only) {
    std::string p = RUNVM_TRY(real_path(path));
    if (::stat(p.c_str(), &st) != 0) return errno_error("confine: " + p);
    plan.bind(p, S_ISDIR(st.st_mode), true);
  }
  std::vector<std::string> devices = {"/dev/null", "/dev/urandom"};
  devices.insert(devices.end(), spec.devices.begin(), spec.devices.end());
  for (const auto& dev : devices) {
    if (::stat(dev.c_str(), &st) != 0) return errno_error("confine: " + dev);
    plan.bind(dev, false, false);
  }
  // The tmpfs hides what is below its mount point, so it goes on a
  // directory none of the sources lives under (a kernel in /tmp is fine).
  for (const char* dir : kStagingCandidates) {
    if (::lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    bool hides = false;
    for (const auto& b : plan.bound()) hides = hides || under(b, dir);
    if (hides) continue;
    c.staging_ = dir;
    break;
  }
  if (c.staging_.empty())
    return make_error(
        "confine: no directory to build QEMU's root on (its files are under all of "
        "/tmp, /mnt, /run, /media, /srv)",
        ENOENT);
  for (auto& s : c.steps_) s.path = c.staging_ + s.path;
  return c;
}

int confine_child(const PreparedConfinement& c) {
  if (c.mount_namespace_) {
    // A namespace of its own whose mounts never propagate back to the host.
    if (::unshare(CLONE_NEWNS) != 0) return errno;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
    if (::mount("tmpfs", c.staging_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=0755,size=64k") != 0)
      return errno;
    for (const auto& s : c.steps_) {
      const char* path = s.path.c_str();
      switch (s.kind) {
        case MountStep::kDir:
          if (::mkdir(path, 0755) != 0 && errno != EEXIST) return errno;
          break;
        case MountStep::kFile: {
          int fd = ::open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
          if (fd < 0) return errno;
          ::close(fd);
          break;
        }
        case MountStep::kBind:
          if (::mount(s.source.c_str(), path, nullptr, MS_BIND, nullptr) != 0) return errno;
          break;
        case MountStep::kBindReadOnly:
          if (::mount(s.source.c_str(), path, nullptr, MS_BIND, nullptr) != 0) return errno;
          // A bind mount takes its own flags only on a remount.
          if (::mount(nullptr, path, nullptr,
                      MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
            return errno;
          break;
        case MountStep::kSymlink:
          if (::symlink(s.source.c_str(), path) != 0) return errno;
          break;
      }
    }
    // The tmpfs becomes "/" and the host's root is detached: nothing else
    // of the host's tree is reachable, not even by "..".
    if (::chdir(c.staging_.c_str()) != 0) return errno;
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return errno;
    if (::umount2(".", MNT_DETACH) != 0) return errno;
    if (::chdir("/") != 0) return errno;
    if (::mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                nullptr) != 0)
      return errno;
  }
  // The bounding set caps what any later exec could gain back; ambient
  // capabilities would survive exec for a non-root uid.
  if (c.drop_bounding_)
    for (int cap = 0; cap < c.max_cap_; ++cap)
      if (cap_drop_bound(static_cast<cap_value_t>(cap)) != 0) return errno;
  if (cap_reset_ambient() != 0 && errno != EINVAL) return errno;
  if (c.user_) {
    const Credentials& u = *c.user_;
    if (::setgroups(u.groups.size(), u.groups.data()) != 0) return errno;
    if (::setresgid(u.gid, u.gid, u.gid) != 0) return errno;
    if (::setresuid(u.uid, u.uid, u.uid) != 0) return errno;
  }
  // Root's exec would otherwise refill permitted and effective from the
  // bounding set; with it empty and these clear, QEMU starts with none.
  if (cap_set_proc(c.empty_) != 0) return errno;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  return 0;
}

}  // namespace runvm
