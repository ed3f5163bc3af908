#include "guest/agent/container_devices.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "spec/base/unique_fd.h"

namespace runvm::agent {
namespace {

// runc's default devices (libcontainer/specconv AllowedDevices with a path).
const proto::Device kDefaultDevices[] = {
    {"c", "/dev/null", 1, 3, 0666, 0, 0},    {"c", "/dev/zero", 1, 5, 0666, 0, 0},
    {"c", "/dev/full", 1, 7, 0666, 0, 0},    {"c", "/dev/tty", 5, 0, 0666, 0, 0},
    {"c", "/dev/urandom", 1, 9, 0666, 0, 0}, {"c", "/dev/random", 1, 8, 0666, 0, 0},
};

struct Link {
  const char* target;
  const char* path;
};
constexpr Link kLinks[] = {
    {"/proc/self/fd", "/dev/fd"},       {"/proc/self/fd/0", "/dev/stdin"},
    {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
    {"pts/ptmx", "/dev/ptmx"},
};

std::string without_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

bool mounted_at(const std::vector<proto::Mount>& mounts, const std::string& dest) {
  for (const auto& m : mounts)
    if (without_trailing_slashes(m.destination) == dest) return true;
  return false;
}

// mkdir -p of the parents of `path`.
Status make_parents(const std::string& path) {
  for (size_t i = 1; i < path.size(); ++i) {
    if (path[i] != '/') continue;
    std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      return errno_error("mkdir " + prefix);
  }
  return {};
}

Status make_link(const std::string& root, const Link& l) {
  std::string path = root + l.path;
  if (::symlink(l.target, path.c_str()) != 0 && errno != EEXIST)
    return errno_error("symlink " + std::string(l.path));
  return {};
}

// runc's setupConsole: an empty file with the pty bound over it. The fd's
// mount belongs to the agent's namespace, which bind mounts refuse as a
// source: the same pty is bound by its path in our /dev/pts (the guest's
// devpts, where a pts device's minor is its number).
Status bind_console(const std::string& root, int console_fd) {
  struct stat tty;
  if (::fstat(console_fd, &tty) != 0) return errno_error("stat of the terminal");
  std::string pts = root + "/dev/pts/" + std::to_string(minor(tty.st_rdev));
  struct stat st;
  if (!S_ISCHR(tty.st_mode) || ::stat(pts.c_str(), &st) != 0 || st.st_rdev != tty.st_rdev)
    return make_error("the terminal is not in the container's /dev/pts");
  std::string path = root + "/dev/console";
  UniqueFd f(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666));
  if (!f) return errno_error("creating /dev/console");
  if (::mount(pts.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return errno_error("bind mounting the terminal on /dev/console");
  return {};
}

}  // namespace

bool sets_up_dev(const std::vector<proto::Mount>& mounts) {
  for (const auto& m : mounts)
    if (!m.share.empty() && without_trailing_slashes(m.destination) == "/dev") return false;
  return true;
}

namespace {

// With the umask at 0 (UmaskCleared): mknod makes the mode exact, and only
// set-id bits, which chown may clear, need a chmod after it. Each syscall
// saved is one less in the container's set-up under TCG.
Status make_unmasked_device(const std::string& root, const proto::Device& d) {
  std::string path = root + d.path;
  RUNVM_CHECK(make_parents(path));
  mode_t type = d.type == "b" ? S_IFBLK : d.type == "p" ? S_IFIFO : S_IFCHR;
  dev_t dev = d.type == "p" ? 0 : makedev(d.major, d.minor);
  mode_t perm = d.file_mode & 07777;
  if (::mknod(path.c_str(), type | perm, dev) != 0) {
    if (errno == EEXIST) return {};  // runc leaves what is there
    return errno_error("mknod " + d.path);
  }
  if (::chown(path.c_str(), d.uid, d.gid) != 0) return errno_error("chown " + d.path);
  if ((perm & (S_ISUID | S_ISGID)) && ::chmod(path.c_str(), perm) != 0)
    return errno_error("chmod " + d.path);
  return {};
}

class UmaskCleared {
 public:
  UmaskCleared() : old_(::umask(0)) {}
  ~UmaskCleared() { ::umask(old_); }
  UmaskCleared(const UmaskCleared&) = delete;
  UmaskCleared& operator=(const UmaskCleared&) = delete;

 private:
  mode_t old_;
};

}  // namespace

Status make_device(const std::string& root, const proto::Device& d) {
  UmaskCleared cleared;
  return make_unmasked_device(root, d);
}

Status populate_dev(const std::string& root, const std::vector<proto::Device>& devices,
                    const std::vector<proto::Mount>& mounts, int console_fd) {
  if (!sets_up_dev(mounts)) return {};
  {
    UmaskCleared cleared;
    for (size_t i = 0; i < devices.size(); ++i)
      RUNVM_CHECK(make_unmasked_device(root, devices[i])
                      .context("linux.devices[" + std::to_string(i) + "]"));
    for (const auto& d : kDefaultDevices) RUNVM_CHECK(make_unmasked_device(root, d));
  }
  for (const auto& l : kLinks) RUNVM_CHECK(make_link(root, l));
  struct stat st;
  if (::stat("/proc/kcore", &st) == 0) RUNVM_CHECK(make_link(root, {"/proc/kcore", "/dev/core"}));
  if (!mounted_at(mounts, "/dev/shm")) {
    std::string shm = root + "/dev/shm";
    if (::mkdir(shm.c_str(), 01777) != 0 && errno != EEXIST) return errno_error("mkdir /dev/shm");
    if (::mount("shm", shm.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=1777,size=65536k") != 0)
      return errno_error("mount tmpfs on /dev/shm");
  }
  if (console_fd >= 0) RUNVM_CHECK(bind_console(root, console_fd));
  return {};
}

}  // namespace runvm::agent
