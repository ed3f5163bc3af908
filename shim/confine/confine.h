// Confining runvm-shim once its set-up is done (issue 15, docs/security.md
// "shim"). Every thread of the shim has one role; each role gets its own
// capability set, no_new_privs and a seccomp allow-list whose default
// action kills the whole process:
//   kControl  the main thread: event loop, control socket, agent channel,
//             pod members' mounts, QEMU's end;
//   kDevice   the device thread: vhost-user vsock and virtio-fs, which
//             parse guest data (the narrowest list that still serves the
//             file system with the caller's credentials);
//   kStdio    StdioPump threads: copy bytes between two fds.
// Capabilities, no_new_privs and seccomp filters are per thread (no TSYNC):
// each thread confines itself at its start, after its own set-up, and a
// thread it creates later inherits its filter and capabilities.
//
// Nothing is confined unless enable() was called (runvm-shim's main):
// unit tests that run these classes in their own process stay unfiltered.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "spec/base/result.h"

namespace runvm::confine {

enum class Role { kControl, kDevice, kStdio };

// What the control thread still does after set-up, which decides the
// capabilities it keeps (capabilities.cc).
struct ControlNeeds {
  bool pod = false;      // binds members' rootfs and mounts into the pod dir
  bool network = false;  // removes its taps and tc filters at the end
};

// $RUNVM_SHIM_CONFINE, for debugging (docs/security.md "shim"):
//   off (or 0)  nothing is confined (gdb, or to tell a missing syscall from a bug);
//   log         capabilities dropped, but a syscall off its list is logged by
//               the kernel (audit, SCMP_ACT_LOG) instead of killing the shim;
//   otherwise   on.
enum class Mode { kOn, kLog, kOff };
Mode mode_from_environment();

// Turns confinement on for this process (runvm-shim only): compiles the
// filters while nothing is confined yet. Until then confine_thread() does
// nothing.
void enable(Mode mode = Mode::kOn);
bool enabled();

// Confines the calling thread to `role`: names it unless it is the main
// thread (runvm-device, runvm-stdio in /proc/<pid>/task/<tid>/comm), drops its capabilities to the
// role's set, sets no_new_privs, loads the role's filter. A no-op unless enabled. `needs` counts
// for the control role only.
Status confine_thread(Role role, ControlNeeds needs = {});

// The role's capabilities (CAP_* numbers) and syscall allow-list, as
// installed (for tests and the documentation's counts).
std::vector<int> capabilities(Role role, const ControlNeeds& needs);
std::vector<std::string> allowed_syscalls(Role role);
const char* role_name(Role role);

// A forbidden syscall (reboot(2) with invalid arguments: EINVAL/EPERM when
// not filtered, harmless either way). Used by the test-only hook and the
// unit tests.
long call_forbidden_syscall();

}  // namespace runvm::confine
