// What /proc says about a process's confinement, for tests that check it
// from outside: status fields (CapEff, NoNewPrivs, Seccomp, Uid) and the
// mount points its mount namespace shows.
#pragma once

#include <sys/types.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace runvm::testing {

// The value of "Name:\t..." in /proc/<pid>/status, trimmed; "" when absent.
inline std::string proc_status_field(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(name + ":")) continue;
    std::string v = line.substr(name.size() + 1);
    size_t b = v.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    return v.substr(b, v.find_last_not_of(" \t") - b + 1);
  }
  return "";
}

// The mount point (5th field) of each line of /proc/<pid>/mountinfo.
inline std::vector<std::string> proc_mount_points(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/mountinfo");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    if (f >> id >> parent >> dev >> root >> point) out.push_back(point);
  }
  return out;
}

}  // namespace runvm::testing
