// process.ioPriority (ioprio_set) and process.scheduler (sched_setattr),
// applied by the process to itself while still root, as runc does. What the
// guest kernel lacks (e.g. utilization clamping) fails with a line that says
// so rather than a bare errno.
#pragma once

#include <cstdint>

#include "guest/protocol/linux_spec.h"
#include "spec/base/result.h"

namespace runvm::agent {

// The ioprio value (class << 13 | level) of an OCI ioPriority.
Result<int> ioprio_value(const proto::IoPriority& p);

// struct sched_attr as the kernel takes it (SCHED_ATTR_SIZE_VER1).
struct SchedAttr {
  uint32_t size = sizeof(SchedAttr);
  uint32_t policy = 0;
  uint64_t flags = 0;
  int32_t nice = 0;
  uint32_t priority = 0;
  uint64_t runtime = 0, deadline = 0, period = 0;
  uint32_t util_min = 0, util_max = 0;
};
Result<SchedAttr> sched_attr_of(const proto::Scheduler& s);

Status apply_io_priority(const proto::IoPriority& p);
Status apply_scheduler(const proto::Scheduler& s);

}  // namespace runvm::agent
