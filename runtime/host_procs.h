// The host side of a container: in runvm its host processes are the shim,
// whose pid stands for the container, and the shim's descendants (QEMU).
// The container's own processes live in the guest kernel, with guest pids
// that mean nothing on the host, so `ps` and `events` report these.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace runvm::cli {

// `root` and its descendants (its children's files in /proc); empty when
// `root` is gone. Sorted, as runc's cgroup pid list is.
std::vector<pid_t> process_tree(pid_t root);
// The same from every process's parent in /proc/*/stat: process_tree's way
// on a kernel without /proc/<pid>/task/<tid>/children.
std::vector<pid_t> process_tree_walk(pid_t root);

// Parses the fields runvm needs from /proc/<pid>/stat text.
struct ProcStat {
  pid_t ppid = 0;
  uint64_t utime_ticks = 0, stime_ticks = 0;  // whole thread group
};
bool parse_proc_stat(const std::string& text, ProcStat& out);

// Resource use summed over `pids`: CPU time and resident memory.
struct HostUsage {
  uint64_t user_ns = 0, kernel_ns = 0;
  uint64_t rss_bytes = 0;
  uint64_t processes = 0;
};
HostUsage host_usage(const std::vector<pid_t>& pids);

}  // namespace runvm::cli
