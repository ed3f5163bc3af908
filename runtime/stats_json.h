// `runvm events` output: runc's types.Event with its types.Stats, field for
// field, so tools that parse runc's events parse ours.
#pragma once

#include <optional>
#include <string>

#include "guest/protocol/stats_messages.h"
#include "runtime/host_cgroup_memory.h"
#include "runtime/host_procs.h"

namespace runvm::cli {

// {"type":"stats","id":ID,"data":{...}} and a newline, as Go's
// json.Encoder writes it. runc's slots hold the container's own numbers:
// its cgroup in the guest (`guest`, the agent's, as runc reads a cgroup2
// container: cpu, memory with memory.stat as "raw", pids, hugetlb). The
// host side, the shim and QEMU that run the whole guest, has no slot in
// runc's shape: it goes in an extra member of data, "runvm_host"
// ({"processes","cpu":{"total","kernel","user"},"rss"} and, with a host
// cgroup, "cgroup":{"memory":{"usage","limit"}}: what containerd and Podman
// read), which runc's decoders ignore. Without `guest` (a paused VM cannot answer) runc's slots
// stay zero, as runc's are for what it cannot read; zero values are left out
// where runc's encoding omits them.
std::string stats_event_json(const std::string& id, const proto::ContainerStats* guest,
                             const HostUsage& host,
                             const std::optional<HostCgroupMemory>& host_cgroup = std::nullopt);

// runc's OOM event: {"type":"oom","id":ID} (no data), one line.
std::string oom_event_json(const std::string& id);

}  // namespace runvm::cli
