// Pins QEMU's vCPU threads to the container's cpuset (linux.resources.cpu.cpus):
// the host cgroup's cpuset already confines the whole QEMU process, but
// pinning each vCPU thread keeps the guest's CPUs on the CPUs the container
// was given, as runc's container would be, whatever cgroup driver runs.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <string_view>
#include <vector>

#include "spec/base/result.h"

namespace runvm {

// A cpuset list ("0-3,5") as an affinity mask. Fails naming the list when it
// is malformed, reversed, or names a CPU past CPU_SETSIZE.
Result<cpu_set_t> cpu_mask_from_list(std::string_view list);

// The vCPU thread ids in a QMP query-cpus-fast reply (its "return" array).
// Fails on anything but an array of objects with a positive "thread-id".
Result<std::vector<pid_t>> vcpu_threads_from_qmp(std::string_view reply_json);

// sched_setaffinity() of every thread in `tids` to `mask`.
Status pin_threads(const std::vector<pid_t>& tids, const cpu_set_t& mask);

}  // namespace runvm
