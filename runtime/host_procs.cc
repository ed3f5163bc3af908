#include "runtime/host_procs.h"

#include <dirent.h>
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

std::vector<pid_t> process_tree(pid_t root) {
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
