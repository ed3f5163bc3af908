#include "runtime/host_procs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

namespace runvm::cli {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), ::isdigit);
}

// A process's parent from /proc/<pid>/stat, read with plain syscalls: the
// walk reads every process's file, and a warm claim and its release walk
// for their unit's processes (a few ms with streams on a busy host).
std::optional<pid_t> parent_of(int proc_fd, const char* pid) {
  char path[64];
  snprintf(path, sizeof path, "%s/stat", pid);
  int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // raced an exit
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  buf[n] = 0;
  // The command (at most 16 bytes, any of them ')' or a space) ends at the
  // last ')': "S PPID ..." follows.
  const char* paren = strrchr(buf, ')');
  if (!paren || paren[1] != ' ' || !paren[2] || paren[3] != ' ') return std::nullopt;
  char* end = nullptr;
  long ppid = strtol(paren + 4, &end, 10);
  if (end == paren + 4) return std::nullopt;
  return static_cast<pid_t>(ppid);
}

}  // namespace

bool parse_proc_stat(const std::string& text, ProcStat& out) {
  // The command may contain spaces and ')': fields start after the last ')'.
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return false;
  std::istringstream in(text.substr(paren + 1));
  std::vector<std::string> f;
  for (std::string s; in >> s;) f.push_back(s);
  // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  if (f.size() < 13) return false;
  out.ppid = static_cast<pid_t>(strtol(f[1].c_str(), nullptr, 10));
  out.utime_ticks = strtoull(f[11].c_str(), nullptr, 10);
  out.stime_ticks = strtoull(f[12].c_str(), nullptr, 10);
  return true;
}

namespace {

// Appends the pids in /proc/<pid>/task/<tid>/children ("1 2 3 "); false
// when that file does not exist (a kernel without CONFIG_PROC_CHILDREN).
bool read_children(int task_fd, const char* tid, std::vector<pid_t>& out) {
  char path[64];
  snprintf(path, sizeof path, "%s/children", tid);
  int fd = openat(task_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT;  // a thread that just exited has none
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const char* p = text.c_str();
  while (*p) {
    char* end = nullptr;
    long pid = strtol(p, &end, 10);
    if (end == p) break;
    if (pid > 0) out.push_back(static_cast<pid_t>(pid));
    p = end;
  }
  return true;
}

enum class Children { kFound, kGone, kUnsupported };

// `pid`'s children: those of each of its threads (a child's parent is the
// thread that forked it).
Children children_of(pid_t pid, std::vector<pid_t>& out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", static_cast<int>(pid));
  DIR* d = opendir(path);
  if (!d) return Children::kGone;
  int task_fd = dirfd(d);
  bool supported = true;
  while (dirent* e = readdir(d))
    if (all_digits(e->d_name) && !read_children(task_fd, e->d_name, out)) supported = false;
  closedir(d);
  return supported ? Children::kFound : Children::kUnsupported;
}

}  // namespace

std::vector<pid_t> process_tree(pid_t root) {
  // From the root down through each process's children files: a few reads
  // for a shim and its QEMU, where the walk reads every process's stat
  // (ms on a busy host, on the claim's path). The walk where they are missing.
  std::vector<pid_t> out, todo = {root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    switch (children_of(p, todo)) {
      case Children::kUnsupported:
        return process_tree_walk(root);
      case Children::kGone:
        if (p == root) return {};
        continue;  // exited since its parent listed it
      case Children::kFound:
        out.push_back(p);
        break;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<pid_t> process_tree_walk(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  bool root_alive = false;
  DIR* d = opendir("/proc");
  if (!d) return {};
  int proc_fd = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (!all_digits(e->d_name)) continue;
    auto ppid = parent_of(proc_fd, e->d_name);
    if (!ppid) continue;
    pid_t pid = static_cast<pid_t>(atoi(e->d_name));
    if (pid == root) root_alive = true;
    children.emplace(*ppid, pid);
  }
  closedir(d);
  std::vector<pid_t> out;
  if (!root_alive) return out;
  std::vector<pid_t> todo = {root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    out.push_back(p);
    auto [b, e] = children.equal_range(p);
    for (auto it = b; it != e; ++it) todo.push_back(it->second);
  }
  std::sort(out.begin(), out.end());
  return out;
}

HostUsage host_usage(const std::vector<pid_t>& pids) {
  HostUsage u;
  const uint64_t ns_per_tick = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  for (pid_t pid : pids) {
    std::string dir = "/proc/" + std::to_string(pid);
    ProcStat st;
    if (!parse_proc_stat(slurp(dir + "/stat"), st)) continue;
    ++u.processes;
    u.user_ns += st.utime_ticks * ns_per_tick;
    u.kernel_ns += st.stime_ticks * ns_per_tick;
    std::istringstream status(slurp(dir + "/status"));
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmRSS:", 0) == 0)
        u.rss_bytes += strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return u;
}

}  // namespace runvm::cli
