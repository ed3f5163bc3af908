#include "guest/agent/process_sched.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace runvm::agent {
namespace {

struct Named {
  std::string_view name;
  uint32_t value;
};

// Kernel ABI values (include/uapi/linux/sched.h, ioprio.h).
constexpr Named kPolicies[] = {{"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},
                               {"SCHED_BATCH", 3}, {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6}};
constexpr Named kFlags[] = {{"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},
                            {"SCHED_FLAG_DL_OVERRUN", 0x04},    {"SCHED_FLAG_KEEP_POLICY", 0x08},
                            {"SCHED_FLAG_KEEP_PARAMS", 0x10},   {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
                            {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}};
constexpr Named kIoClasses[] = {
    {"IOPRIO_CLASS_RT", 1}, {"IOPRIO_CLASS_BE", 2}, {"IOPRIO_CLASS_IDLE", 3}};
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioWhoProcess = 1;

template <size_t N>
const Named* find(const Named (&table)[N], std::string_view name) {
  for (const auto& n : table)
    if (n.name == name) return &n;
  return nullptr;
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// ENOSYS, EOPNOTSUPP: the guest kernel lacks it; anything else as is.
Error syscall_error(std::string_view what, std::string_view call, int e) {
  std::string msg = std::string(what) + ": ";
  if (e == ENOSYS || e == EOPNOTSUPP)
    msg +=
        "not supported by the guest kernel (" + std::string(call) + ": " + std::strerror(e) + ")";
  else
    msg += std::string(call) + ": " + std::strerror(e);
  return make_error(msg, e);
}

}  // namespace

Result<int> ioprio_value(const proto::IoPriority& p) {
  const Named* c = find(kIoClasses, p.io_class);
  if (!c) return make_error("process.ioPriority.class: unknown class " + quote(p.io_class));
  if (p.priority > 7) return make_error("process.ioPriority.priority: must be between 0 and 7");
  return static_cast<int>(c->value << kIoprioClassShift | p.priority);
}

Result<SchedAttr> sched_attr_of(const proto::Scheduler& s) {
  SchedAttr a;
  const Named* policy = find(kPolicies, s.policy);
  if (!policy)
    return make_error("process.scheduler.policy: " + quote(s.policy) +
                      " is not supported by the guest kernel");
  a.policy = policy->value;
  for (const auto& f : s.flags) {
    const Named* flag = find(kFlags, f);
    if (!flag) return make_error("process.scheduler.flags: unknown flag " + quote(f));
    a.flags |= flag->value;
  }
  a.nice = s.nice;
  a.priority = static_cast<uint32_t>(s.priority);
  a.runtime = s.runtime;
  a.deadline = s.deadline;
  a.period = s.period;
  return a;
}

Status apply_io_priority(const proto::IoPriority& p) {
  int value = RUNVM_TRY(ioprio_value(p));
  if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, value) < 0)
    return syscall_error("process.ioPriority", "ioprio_set", errno);
  return {};
}

Status apply_scheduler(const proto::Scheduler& s) {
  SchedAttr a = RUNVM_TRY(sched_attr_of(s));
  if (::syscall(SYS_sched_setattr, 0, &a, 0) < 0)
    return syscall_error("process.scheduler", "sched_setattr", errno);
  return {};
}

}  // namespace runvm::agent
