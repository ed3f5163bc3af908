#include "runtime/host_procs.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace runvm::cli {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), ::isdigit);
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
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename().string();
    if (!all_digits(name)) continue;
    ProcStat st;
    if (!parse_proc_stat(slurp(e.path().string() + "/stat"), st)) continue;  // raced an exit
    pid_t pid = static_cast<pid_t>(atoi(name.c_str()));
    if (pid == root) root_alive = true;
    children.emplace(st.ppid, pid);
  }
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
