#include "shim/container/pool_cgroup_home.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "spec/base/log.h"
#include "spec/base/state_layout.h"
#include "spec/cgroup/cgroup.h"

namespace runvm {

namespace {

std::string own_cgroups() {
  UniqueFd fd(::open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC));
  std::string text;
  char buf[4096];
  for (ssize_t n; fd && (n = read(fd.get(), buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<size_t>(n));
  return text;
}

}  // namespace

PoolCgroupHome PoolCgroupHome::open() {
  PoolCgroupHome home;
  home.booted_in_ = own_cgroups();
  auto layout = cgroup::detect_layout();
  if (!layout.ok()) return home;
  auto pool = cgroup::Cgroup::resolve(*layout, layout::kPoolCgroup);
  if (!pool.ok()) return home;
  for (const auto& d : pool->dirs()) {
    UniqueFd fd(::open((d.path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (fd) home.procs_.push_back(std::move(fd));
  }
  return home;
}

void PoolCgroupHome::take_back(const std::vector<pid_t>& pids) const {
  if (procs_.empty() || own_cgroups() == booted_in_) return;
  for (const auto& fd : procs_)
    for (pid_t pid : pids) {
      std::string s = std::to_string(pid);
      if (pwrite(fd.get(), s.data(), s.size(), 0) < 0 && errno != ESRCH)
        log::debug("pool cgroup: moving " + s + " back: " + strerror(errno));
    }
}

}  // namespace runvm
