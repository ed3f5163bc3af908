// The container's cgroup in the guest's cgroup2 hierarchy: <root>/<id>, with
// every controller the guest kernel has enabled for it, so the container
// sees its usual files; linux.resources that belong inside the guest are
// written there (pids.max, hugetlb.<size>.max). The container process moves
// itself in and unshares a cgroup namespace rooted there (process_init.h),
// so a cgroup mount in the container shows its own limits at the top; exec'd
// processes join the same cgroup. VM-wide sizing (memory, vCPUs) is the
// VM's, set from annotations on the host. The directory is removed on
// destruction when it is empty.
#pragma once

#include <string>

#include "guest/protocol/linux_spec.h"
#include "spec/base/result.h"

namespace runvm::agent {

class ContainerCgroup {
 public:
  // `root` empty: no cgroups (host-side tests); asking for limits then fails.
  static Result<ContainerCgroup> create(const std::string& root, const std::string& id,
                                        const proto::LinuxSpec& spec);

  ContainerCgroup() = default;
  ContainerCgroup(ContainerCgroup&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  ContainerCgroup& operator=(ContainerCgroup&&) = delete;
  ContainerCgroup(const ContainerCgroup&) = delete;
  ~ContainerCgroup();

  // The directory in the agent's mount namespace; empty: none.
  const std::string& path() const { return path_; }
  // Another owner took the directory over: it is no longer removed here.
  void release() { path_.clear(); }

 private:
  explicit ContainerCgroup(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// The container's cgroup directory name: runvm-<id>, unique per id (one VM
// may hold several containers) and within NAME_MAX.
std::string cgroup_name(const std::string& id);

// In a child of the agent, before it leaves the agent's mount namespace:
// moves the calling process into `dir` and unshares a cgroup namespace
// rooted there. No-op when `dir` is empty.
Status enter_cgroup(const std::string& dir);

}  // namespace runvm::agent
