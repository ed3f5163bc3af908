#include "shim/confine/allow_lists.h"

namespace runvm::confine {

namespace {

// Every thread: what the C++ runtime does on its own.
Group runtime_group() {
  return {
      "C++ runtime: allocation (malloc arenas, thread stacks), locks and condition "
      "variables, clocks, the thread's own exit, abort()",
      {{"brk"},
       {"mmap"},
       {"munmap"},
       {"mremap"},
       {"mprotect"},
       {"madvise"},
       {"futex"},
       {"sched_yield"},
       {"nanosleep"},
       {"clock_nanosleep"},
       {"clock_gettime"},
       {"gettimeofday"},
       {"getpid"},
       {"gettid"},
       {"rt_sigprocmask"},
       {"rt_sigreturn"},
       {"restart_syscall"},
       {"tgkill", ArgRule::kOwnProcess},
       {"exit"},
       {"exit_group"}}};
}

std::vector<Group> stdio_list() {
  return {runtime_group(),
          {"stdio relay: read one fd, write or send to the other, shut the socket's write "
           "side at EOF",
           {{"read"}, {"write"}, {"sendto"}, {"fstat"}, {"newfstatat"}, {"shutdown"}, {"close"}}}};
}

std::vector<Group> device_list() {
  return {
      runtime_group(),
      {"event loop (epoll, its wake eventfd and timerfd)",
       {{"epoll_wait"}, {"epoll_pwait"}, {"epoll_ctl"}, {"timerfd_settime"}, {"read"}, {"write"}}},
      {"vhost-user: QEMU's connection (accepted late: a reconnect), its messages with fds "
       "(SCM_RIGHTS), guest memory mapped from them",
       {{"accept4"}, {"recvmsg"}, {"sendmsg"}, {"close"}, {"fstat"}, {"fcntl"}}},
      {"vsock: guest connections to host ports become connections to <vsock>_<port> "
       "sockets; data both ways",
       {{"socket", ArgRule::kSocketUnix}, {"connect"}, {"sendto"}, {"shutdown"}}},
      {"vsock: whether the host reader of a connection the guest closed still takes its "
       "last data (the bytes it has not read)",
       {{"ioctl", ArgRule::kSocketOutq}}},
      {"virtio-fs: the FUSE operations on O_PATH handles under the share (*at calls, "
       "/proc/self/fd re-opens), data, attributes, xattrs; its helper threads (same role): "
       "the walk for xattrs (llistxattr of each name), files made ahead of time (O_TMPFILE)",
       {{"openat"},          {"newfstatat"}, {"fstatfs"},   {"getdents64"}, {"readlinkat"},
        {"mkdirat"},         {"mknodat"},    {"symlinkat"}, {"linkat"},     {"unlinkat"},
        {"renameat"},        {"renameat2"},  {"fchmodat"},  {"fchmod"},     {"fchownat"},
        {"utimensat"},       {"ftruncate"},  {"fallocate"}, {"fsync"},      {"fdatasync"},
        {"copy_file_range"}, {"lseek"},      {"preadv"},    {"pwritev"},    {"readv"},
        {"writev"},          {"getxattr"},   {"setxattr"},  {"listxattr"},  {"removexattr"},
        {"llistxattr"}}},
      {"virtio-fs: acting with the caller's credentials (setfsuid/setfsgid, and the "
       "file-system capabilities the kernel clears when fsuid leaves 0 raised again "
       "from the permitted set)",
       {{"setfsuid"}, {"setfsgid"}, {"geteuid"}, {"getegid"}, {"capget"}, {"capset"}}},
  };
}

std::vector<Group> control_list() {
  return {
      runtime_group(),
      {"event loop: epoll, timers (console size, deadlines), wake-ups; QMP replies and "
       "QEMU's exit awaited with poll",
       {{"epoll_wait"},
        {"epoll_pwait"},
        {"epoll_ctl"},
        {"timerfd_settime"},
        {"poll"},
        {"read"},
        {"write"},
        {"close"}}},
      {"control socket clients, agent channel, QMP, netlink: all opened during set-up, "
       "or accepted",
       {{"accept4"}, {"sendto"}, {"recvfrom"}, {"sendmsg"}, {"recvmsg"}, {"shutdown"}}},
      {"state directory: status files written atomically (the status file's preallocated "
       "spare overwritten in place and swapped with RENAME_EXCHANGE: no new space on a "
       "full disk), sockets and the pod dir's "
       "mountpoints made and removed, bundles of pod members read; a pool unit lists "
       "and removes its own directories at its end",
       {{"openat"},
        {"getdents64"},
        {"newfstatat"},
        {"fstat"},
        {"lseek"},
        {"fsync"},
        {"rename"},
        {"renameat"},
        {"renameat2"},
        {"pwrite64"},
        {"unlink"},
        {"unlinkat"},
        {"mkdir"},
        {"mkdirat"},
        {"rmdir"},
        {"readlink"}}},
      {"pod members: their rootfs and bind mounts into the pod dir (each a detached copy "
       "of the source attached by descriptor, whose descriptor seals and unmounts it), and "
       "back",
       {{"mount"}, {"umount2"}, {"open_tree"}, {"move_mount"}}},
      {"QEMU: stopping and killing it, reaping it, pinning its vCPU threads (update)",
       {{"pidfd_send_signal"}, {"kill"}, {"wait4"}, {"sched_setaffinity"}}},
      {"console: the terminal size check", {{"ioctl", ArgRule::kTtySize}}},
      {"threads: a StdioPump made after set-up (today they are made while the first "
       "container is created) starts under this filter and narrows itself to the stdio "
       "role",
       {{"clone", ArgRule::kCloneThread},
        {"set_robust_list"},
        {"rseq"},
        {"prctl", ArgRule::kPrctlConfine},
        {"capget"},
        {"capset"},
        {"seccomp", ArgRule::kSeccompFilter}}},
      {"exit as the container did: no core, default action, raise the signal",
       {{"prlimit64"}, {"rt_sigaction"}}},
  };
}

}  // namespace

const std::vector<Group>& allow_list(Role role) {
  static const std::vector<Group> control = control_list();
  static const std::vector<Group> device = device_list();
  static const std::vector<Group> stdio = stdio_list();
  switch (role) {
    case Role::kControl:
      return control;
    case Role::kDevice:
      return device;
    case Role::kStdio:
      break;
  }
  return stdio;
}

}  // namespace runvm::confine
