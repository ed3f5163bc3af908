#include "guest/agent/init.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "spec/base/unique_fd.h"

namespace runvm::agent {
namespace {

struct PseudoMount {
  const char* target;
  const char* fstype;
  unsigned long flags;
  const char* options;
  mode_t dir_mode;
  // A kernel that does not know the options (EINVAL) mounts without them.
  bool options_optional = false;
};

constexpr unsigned long kNoDev = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// Order matters: /dev before its submounts.
constexpr PseudoMount kMounts[] = {
    {"/proc", "proc", kNoDev, nullptr, 0555},
    {"/sys", "sysfs", kNoDev, nullptr, 0555},
    // favordynmods: moving a task into a cgroup (each container's init) and
    // enabling controllers take the threadgroup rwsem for writing, which
    // otherwise waits out an RCU grace period first: ~12 ms of every create
    // under TCG, even with one vCPU. The cost moves to fork and exit (a plain
    // rwsem read instead of a per-cpu one), which are few here.
    {kCgroupRoot, "cgroup2", kNoDev, "favordynmods", 0555, true},
    {"/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755", 0755},
    {"/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666,mode=0620", 0755},
    {"/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777},
    {"/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755},
    {"/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777},
};

}  // namespace

Status mount_pseudo_filesystems() {
  for (const auto& m : kMounts) {
    if (::mkdir(m.target, m.dir_mode) != 0 && errno != EEXIST)
      return errno_error(std::string("mkdir ") + m.target);
    int r = ::mount(m.fstype, m.target, m.fstype, m.flags, m.options);
    if (r != 0 && errno == EINVAL && m.options_optional)
      r = ::mount(m.fstype, m.target, m.fstype, m.flags, nullptr);
    if (r != 0 && errno != EBUSY)
      return errno_error(std::string("mount ") + m.fstype + " on " + m.target);
  }
  return {};
}

Status bring_up_loopback() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return errno_error("socket for lo");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) < 0) return errno_error("lo flags");
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) < 0) return errno_error("lo up");
  return {};
}

Status allow_overcommit() {
  UniqueFd fd(::open("/proc/sys/vm/overcommit_memory", O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), "1", 1) != 1) return errno_error("vm.overcommit_memory");
  return {};
}

Status attach_console() {
  UniqueFd fd(::open("/dev/console", O_RDWR | O_NOCTTY));
  if (!fd) return errno_error("open /dev/console");
  for (int target = 0; target <= 2; ++target)
    if (fd.get() != target && ::dup2(fd.get(), target) < 0) return errno_error("dup2 console");
  if (fd.get() <= 2) fd.release();  // it is now one of 0-2
  return {};
}

void log_line(std::string_view msg) {
  std::string line = "runvm-agent: ";
  line.append(msg);
  line.push_back('\n');
  // Best effort: nowhere else to report a failing console.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

void power_off() {
  ::sync();
  ::reboot(RB_AUTOBOOT);
  log_line("reboot failed: " + std::string(std::strerror(errno)));
  for (;;) ::pause();
}

}  // namespace runvm::agent
