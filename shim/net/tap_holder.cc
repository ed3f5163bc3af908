#include "shim/net/tap_holder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace runvm::net {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<pid_t> live_shim_holding(int netns_fd, const std::string& tap) {
  struct stat ns;
  if (fstat(netns_fd, &ns) != 0) return std::nullopt;
  // A tun fd's fdinfo names its interface: "iff:\t<name>".
  const std::string needle = "iff:\t" + tap + "\n";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == getpid()) continue;
    if (slurp(e.path() / "comm") != "runvm-shim\n") continue;
    struct stat st;
    if (stat((e.path() / "ns/net").c_str(), &st) != 0) continue;
    if (st.st_ino != ns.st_ino || st.st_dev != ns.st_dev) continue;
    std::error_code fd_ec;
    for (const auto& fd : std::filesystem::directory_iterator(e.path() / "fdinfo", fd_ec))
      if (slurp(fd.path()).find(needle) != std::string::npos) return pid;
  }
  return std::nullopt;
}

}  // namespace runvm::net
