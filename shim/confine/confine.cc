#include "shim/confine/confine.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "shim/confine/allow_lists.h"
#include "spec/base/unique_fd.h"

namespace runvm::confine {

namespace {

struct State {
  bool enabled = false;
  // The roles' filters as BPF, compiled once by enable() (unconfined): a
  // thread confining itself then needs nothing but prctl and seccomp(2).
  std::vector<sock_filter> bpf[3];
  Status built;
};

State& state() {
  static State s;
  return s;
}

size_t index_of(Role r) { return static_cast<size_t>(r); }

Status add_rule(scmp_filter_ctx ctx, const Allowed& a) {
  int nr = seccomp_syscall_resolve_name(a.name);
  if (nr == __NR_SCMP_ERROR) return make_error(std::string("seccomp: unknown syscall ") + a.name);
  auto add = [&](unsigned count, const scmp_arg_cmp* cmp) {
    return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, count, cmp);
  };
  int rc = 0;
  switch (a.rule) {
    case ArgRule::kAny:
      rc = add(0, nullptr);
      break;
    case ArgRule::kSocketUnix: {
      scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
      rc = add(1, &c);
      break;
    }
    case ArgRule::kCloneThread: {
      scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
      rc = add(1, &c);
      break;
    }
    case ArgRule::kOwnProcess: {
      scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(getpid()));
      rc = add(1, &c);
      break;
    }
    case ArgRule::kPrctlConfine:
      for (int option : {PR_SET_NAME, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_READ, PR_CAPBSET_DROP}) {
        scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(option));
        if ((rc = add(1, &c)) != 0) break;
      }
      break;
    case ArgRule::kSeccompFilter: {
      scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER);
      rc = add(1, &c);
      break;
    }
    case ArgRule::kSocketOutq: {
      scmp_arg_cmp c = SCMP_A1(SCMP_CMP_EQ, static_cast<unsigned long>(SIOCOUTQ));
      rc = add(1, &c);
      break;
    }
    case ArgRule::kTtySize:
      for (unsigned long req : {TIOCGWINSZ, TIOCSWINSZ}) {
        scmp_arg_cmp c = SCMP_A1(SCMP_CMP_EQ, req);
        if ((rc = add(1, &c)) != 0) break;
      }
      break;
  }
  if (rc != 0) return make_error(std::string("seccomp: rule for ") + a.name, -rc);
  return {};
}

// The role's filter, compiled to BPF through a memfd (libseccomp 2.5 exports
// only to an fd).
Result<std::vector<sock_filter>> compile(Role role, uint32_t default_action) {
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(default_action),
                                                       seccomp_release);
  if (!ctx) return make_error("seccomp_init");
  // The thread sets no_new_privs itself (confine_thread), once.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  for (const Group& g : allow_list(role))
    for (const Allowed& a : g.syscalls) RUNVM_CHECK(add_rule(ctx.get(), a));
  if (role == Role::kControl) {
    int nr = seccomp_syscall_resolve_name(kEnosysSyscall);
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), nr, 0); rc != 0)
      return make_error("seccomp: clone3", -rc);
  }
  UniqueFd fd(memfd_create("runvm-seccomp", MFD_CLOEXEC));
  if (!fd) return errno_error("memfd_create");
  if (int rc = seccomp_export_bpf(ctx.get(), fd.get()); rc != 0)
    return make_error("seccomp_export_bpf", -rc);
  off_t size = lseek(fd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) return make_error("seccomp: bad BPF size");
  std::vector<sock_filter> prog(static_cast<size_t>(size) / sizeof(sock_filter));
  if (pread(fd.get(), prog.data(), static_cast<size_t>(size), 0) != size)
    return errno_error("seccomp: reading BPF");
  return prog;
}

Status drop_capabilities(const std::vector<int>& keep) {
  // The bounding set too where this thread may still change it (the main
  // and device threads; later threads inherit theirs): nothing dropped
  // comes back through an exec either (none is allowed anyway).
  cap_flag_value_t setpcap = CAP_CLEAR;
  {
    std::unique_ptr<_cap_struct, int (*)(void*)> now(cap_get_proc(), cap_free);
    if (now) cap_get_flag(now.get(), CAP_SETPCAP, CAP_EFFECTIVE, &setpcap);
  }
  if (setpcap == CAP_SET)
    for (int c = 0; c <= CAP_LAST_CAP; ++c)
      if (std::find(keep.begin(), keep.end(), c) == keep.end() && CAP_IS_SUPPORTED(c) &&
          cap_drop_bound(static_cast<cap_value_t>(c)) != 0)
        return errno_error("dropping capability " + std::to_string(c) + " from the bounding set");
  std::unique_ptr<_cap_struct, int (*)(void*)> caps(cap_init(), cap_free);
  if (!caps) return errno_error("cap_init");
  std::vector<cap_value_t> values(keep.begin(), keep.end());
  if (!values.empty() && (cap_set_flag(caps.get(), CAP_PERMITTED, static_cast<int>(values.size()),
                                       values.data(), CAP_SET) != 0 ||
                          cap_set_flag(caps.get(), CAP_EFFECTIVE, static_cast<int>(values.size()),
                                       values.data(), CAP_SET) != 0))
    return errno_error("cap_set_flag");
  // Per thread: libcap without libpsx changes only the calling thread.
  if (cap_set_proc(caps.get()) != 0) return errno_error("cap_set_proc");
  return {};
}

}  // namespace

Mode mode_from_environment() {
  const char* v = getenv("RUNVM_SHIM_CONFINE");
  if (!v) return Mode::kOn;
  if (std::strcmp(v, "off") == 0 || std::strcmp(v, "0") == 0) return Mode::kOff;
  if (std::strcmp(v, "log") == 0) return Mode::kLog;
  return Mode::kOn;
}

void enable(Mode mode) {
  if (mode == Mode::kOff) return;
  State& s = state();
  // A shim killed by its filter dumps no core: it maps the guest's RAM
  // (vhost-user), which has no business on the host's disk.
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  for (Role r : {Role::kControl, Role::kDevice, Role::kStdio}) {
    auto prog = compile(r, mode == Mode::kLog ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
    if (!prog.ok()) {
      s.built =
          std::move(prog).error().wrap(std::string("confining the ") + role_name(r) + " thread");
      break;
    }
    s.bpf[index_of(r)] = std::move(*prog);
  }
  s.enabled = true;
}

bool enabled() { return state().enabled; }

const char* role_name(Role role) {
  switch (role) {
    case Role::kControl:
      return "control";
    case Role::kDevice:
      return "device";
    case Role::kStdio:
      break;
  }
  return "stdio";
}

std::vector<int> capabilities(Role role, const ControlNeeds& needs) {
  switch (role) {
    case Role::kDevice:
      // virtio-fs acts as the guest's caller (docs/security.md "shim").
      return {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
              CAP_FSETID, CAP_MKNOD,        CAP_SETGID,          CAP_SETUID};
    case Role::kControl: {
      // QEMU may run under runvm's unprivileged uid: killing it and pinning
      // its vCPU threads then take CAP_KILL and CAP_SYS_NICE.
      std::vector<int> caps{CAP_KILL, CAP_SYS_NICE};
      if (needs.network) caps.push_back(CAP_NET_ADMIN);
      if (needs.pod)
        caps.insert(caps.end(), {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN});
      std::sort(caps.begin(), caps.end());
      return caps;
    }
    case Role::kStdio:
      break;
  }
  return {};
}

std::vector<std::string> allowed_syscalls(Role role) {
  std::vector<std::string> out;
  for (const Group& g : allow_list(role))
    for (const Allowed& a : g.syscalls) out.emplace_back(a.name);
  return out;
}

Status confine_thread(Role role, ControlNeeds needs) {
  State& s = state();
  if (!s.enabled) return {};
  RUNVM_CHECK(s.built);
  auto fail = [&](Error e) {
    return std::move(e).wrap(std::string("confining the ") + role_name(role) + " thread");
  };
  // The main thread keeps the process's name (runvm-shim, as ps shows it).
  if (role != Role::kControl) {
    std::string name = std::string("runvm-") + role_name(role);
    prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
  }
  if (auto st = drop_capabilities(capabilities(role, needs)); !st.ok())
    return fail(std::move(st).error());
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail(errno_error("no_new_privs"));
  auto& bpf = s.bpf[index_of(role)];
  sock_fprog prog{static_cast<unsigned short>(bpf.size()), bpf.data()};
  // No SECCOMP_FILTER_FLAG_TSYNC: this thread only.
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
    return fail(errno_error("seccomp"));
  return {};
}

long call_forbidden_syscall() { return syscall(SYS_reboot, 0, 0, 0, nullptr); }

}  // namespace runvm::confine
