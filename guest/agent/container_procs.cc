#include "guest/agent/container_procs.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <set>
#include <string_view>

#include "guest/agent/container_cgroup.h"
#include "guest/agent/kernel_file.h"

namespace runvm::agent {
namespace {

// Bounds on hostile trees: a container can make cgroups below its own.
constexpr int kMaxCgroupDepth = 32;
constexpr size_t kMaxPids = 1 << 20;
// Passes of signal_all: each finds the processes forked since the last.
constexpr int kMaxPasses = 64;

std::optional<pid_t> parse_pid(std::string_view s) {
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
  if (ec != std::errc() || end != s.data() + s.size() || pid <= 0) return std::nullopt;
  return pid;
}

Status check_own_proc(const std::string& proc) {
  char buf[32];
  ssize_t n = ::readlink((proc + "/self").c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf || parse_pid({buf, size_t(n)}) != ::getpid())
    return make_error(proc + " is not the procfs of the agent's PID namespace");
  return {};
}

Status collect_cgroup(const std::string& dir, int depth, std::vector<pid_t>& out) {
  if (depth > kMaxCgroupDepth) return {};
  // Gone meanwhile (a child cgroup removed): nothing to signal there.
  auto procs = read_kernel_file(dir + "/cgroup.procs");
  if (!procs.ok()) return depth == 0 ? Status(std::move(procs).error()) : Status{};
  // No istringstream: iostreams would be translated under TCG for this
  // alone (container_cgroup.cc).
  std::string_view rest = *procs;
  while (!rest.empty() && out.size() < kMaxPids) {
    size_t nl = std::min(rest.find('\n'), rest.size());
    if (auto pid = parse_pid(rest.substr(0, nl))) out.push_back(*pid);
    rest.remove_prefix(std::min(nl + 1, rest.size()));
  }
  DIR* d = ::opendir(dir.c_str());
  if (!d) return {};
  std::vector<std::string> children;
  while (dirent* e = ::readdir(d))
    if (e->d_type == DT_DIR && std::string_view(e->d_name) != "." &&
        std::string_view(e->d_name) != "..")
      children.push_back(dir + "/" + e->d_name);
  ::closedir(d);
  for (const auto& child : children) RUNVM_CHECK(collect_cgroup(child, depth + 1, out));
  return {};
}

}  // namespace

Result<NamespaceId> mount_namespace_of(pid_t pid, const std::string& proc) {
  RUNVM_CHECK(check_own_proc(proc));
  struct stat st;
  std::string link = proc + "/" + std::to_string(pid) + "/ns/mnt";
  if (::stat(link.c_str(), &st) < 0) return errno_error("stat " + link);
  return NamespaceId{st.st_dev, st.st_ino};
}

Result<std::vector<pid_t>> cgroup_pids(const std::string& dir) {
  std::vector<pid_t> out;
  RUNVM_CHECK(collect_cgroup(dir, 0, out));
  return out;
}

Result<std::vector<pid_t>> namespace_pids(NamespaceId ns, const std::string& proc) {
  RUNVM_CHECK(check_own_proc(proc));
  DIR* d = ::opendir(proc.c_str());
  if (!d) return errno_error("opendir " + proc);
  std::vector<pid_t> out;
  while (dirent* e = ::readdir(d)) {
    auto pid = parse_pid(e->d_name);
    if (!pid) continue;
    struct stat st;
    // Gone meanwhile, or a kernel thread without one: not the container's.
    std::string link = proc + "/" + e->d_name + "/ns/mnt";
    if (::stat(link.c_str(), &st) == 0 && NamespaceId{st.st_dev, st.st_ino} == ns)
      out.push_back(*pid);
    if (out.size() >= kMaxPids) break;
  }
  ::closedir(d);
  return out;
}

Status signal_all(const ProcessScope& scope, int sig, const std::string& proc) {
  if (scope.cgroup_dir.empty() && !scope.mount_ns)
    return make_error("the container's processes are unknown (no cgroup, no mount namespace)");
  std::set<pid_t> signalled;
  auto send = [&](pid_t pid) -> Status {
    if (pid == ::getpid() || !signalled.insert(pid).second) return {};
    if (::kill(pid, sig) < 0 && errno != ESRCH) return errno_error("kill " + std::to_string(pid));
    return {};
  };
  // First, and by pid: an exec'd process forked but not yet in the cgroup
  // (it joins itself) is in no listing below, and would run its command
  // after all the others got the signal. Neither can fork meanwhile.
  for (pid_t pid : scope.joining) RUNVM_CHECK(send(pid));
  // An empty subtree (the usual case once a container's main process was
  // reaped) has nothing to freeze or list: one read, where freezing,
  // listing and thawing are each a kernel path of their own (costly the
  // first time under TCG).
  if (!scope.cgroup_dir.empty()) {
    auto events = read_kernel_file(scope.cgroup_dir + "/cgroup.events");
    if (events.ok() && parse_events_value(*events, "populated") == 0u) return {};
  }
  const std::string freeze = scope.cgroup_dir.empty() ? "" : scope.cgroup_dir + "/cgroup.freeze";
  // Best effort: a kernel without the freezer still gets the passes below.
  bool frozen = !freeze.empty() && write_kernel_file(freeze, "1").ok();
  Status result;
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    auto pids = scope.cgroup_dir.empty() ? namespace_pids(*scope.mount_ns, proc)
                                         : cgroup_pids(scope.cgroup_dir);
    if (!pids.ok()) {
      result = std::move(pids).error().wrap("listing the container's processes");
      break;
    }
    size_t before = signalled.size();
    for (pid_t pid : *pids) {
      result = send(pid);
      if (!result.ok()) break;
    }
    if (signalled.size() == before || !result.ok()) break;
  }
  if (frozen) (void)write_kernel_file(freeze, "0");
  return result;
}

}  // namespace runvm::agent
