#include "runtime/network_namespace.h"

#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "spec/base/atomic_file.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {
namespace {

std::string read_all(const std::string& path, bool& ok) {
  std::ifstream in(path);
  ok = static_cast<bool>(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string net_dev(pid_t pid) { return "/proc/" + std::to_string(pid) + "/net/dev"; }

}  // namespace

bool wants_fresh_netns(const oci::Config& config) {
  if (!config.linux_) return false;
  for (const auto& ns : config.linux_->namespaces)
    if (ns.type == oci::NamespaceType::kNetwork) return ns.path.empty();
  return false;
}

std::vector<std::string> parse_net_dev(std::string_view text) {
  // Two header lines, then "  <name>: <counters>" per interface.
  std::vector<std::string> names;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line_no++ < 2) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    name.remove_prefix(std::min(name.find_first_not_of(' '), name.size()));
    if (!name.empty()) names.emplace_back(name);
  }
  return names;
}

Result<int> netns_ethernet_count(int netns_fd) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return errno_error("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t child = fork();
  if (child < 0) return errno_error("fork");
  if (child == 0) {
    int answer = -1;  // an error
    if (setns(netns_fd, CLONE_NEWNET) == 0) {
      bool ok = false;
      std::string text = read_all("/proc/thread-self/net/dev", ok);
      int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (ok && sock >= 0) {
        answer = 0;
        for (const auto& name : parse_net_dev(text)) {
          ifreq req{};
          if (name.size() >= sizeof req.ifr_name) continue;
          memcpy(req.ifr_name, name.data(), name.size());
          if (ioctl(sock, SIOCGIFHWADDR, &req) == 0 && req.ifr_hwaddr.sa_family == ARPHRD_ETHER)
            ++answer;
        }
      }
    }
    [[maybe_unused]] auto w = write(wr.get(), &answer, sizeof answer);
    _exit(0);
  }
  wr.reset();
  int answer = -1;
  ssize_t n;
  while ((n = read(rd.get(), &answer, sizeof answer)) < 0 && errno == EINTR) {
  }
  while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof answer || answer < 0)
    return make_error("cannot read the interfaces of the network namespace");
  return answer;
}

Status save_netns_interfaces(const ContainerDir& dir, pid_t shim) {
  bool ok = false;
  std::string text = read_all(net_dev(shim), ok);
  if (!ok) return make_error("reading " + net_dev(shim));
  std::string names;
  for (const auto& n : parse_net_dev(text)) names += n + "\n";
  return write_file_atomic(dir.file(layout::kNetnsInterfacesFile), names, false);
}

Status check_netns_unchanged(const ContainerDir& dir, pid_t shim) {
  bool recorded = false, live = false;
  std::string saved = read_all(dir.file(layout::kNetnsInterfacesFile), recorded);
  std::string now = read_all(net_dev(shim), live);
  if (!recorded || !live) return {};
  std::vector<std::string> before;
  std::istringstream in(saved);
  for (std::string n; std::getline(in, n);) before.push_back(n);
  std::string added;
  for (const auto& n : parse_net_dev(now))
    if (std::find(before.begin(), before.end(), n) == before.end())
      added += (added.empty() ? "" : ", ") + n;
  if (added.empty()) return {};
  return make_error("the container's network namespace got interfaces after create (" + added +
                    "): runvm gives the VM its network at create only; give config.json the "
                    "namespace's path, set up before create (as Podman and containerd's CRI do)");
}

}  // namespace runvm::cli
