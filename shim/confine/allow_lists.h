// The shim's seccomp allow-lists, one per thread role (confine.h), by
// group with the reason each group is there. Built by reading what each
// thread does and checked against strace -f of real runs (docs/security.md,
// "shim"). A syscall outside its thread's list kills the whole shim.
#pragma once

#include <vector>

#include "shim/confine/confine.h"

namespace runvm::confine {

// A syscall allowed only when an argument matches (the rest of it is
// refused like any syscall not listed).
enum class ArgRule {
  kAny,
  kSocketUnix,     // socket(AF_UNIX, ...): the only sockets a thread opens late
  kCloneThread,    // clone(CLONE_THREAD...): threads, never a new process
  kOwnProcess,     // tgkill(getpid(), ...): abort() and raise() only
  kPrctlConfine,   // prctl(PR_SET_NAME | PR_SET_NO_NEW_PRIVS | PR_CAPBSET_*)
  kSeccompFilter,  // seccomp(SECCOMP_SET_MODE_FILTER): a new thread narrows itself
  kTtySize,        // ioctl(TIOCGWINSZ | TIOCSWINSZ): the console size check
  kSocketOutq,     // ioctl(SIOCOUTQ): bytes a socket's reader has not taken yet
};

struct Allowed {
  const char* name;
  ArgRule rule = ArgRule::kAny;
};

struct Group {
  const char* why;
  std::vector<Allowed> syscalls;
};

// The role's groups; a syscall appears once per role.
const std::vector<Group>& allow_list(Role role);

// clone3(2) passes its flags in memory a filter cannot read: it fails with
// ENOSYS, and glibc falls back to clone(2), whose flags the filter checks.
inline constexpr const char* kEnosysSyscall = "clone3";

}  // namespace runvm::confine
