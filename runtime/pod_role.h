// Which part of a pod a container is, from what the engines already put in
// its config.json (issue 12: one VM per pod):
//   containerd CRI  annotations io.kubernetes.cri.container-type
//                   ("sandbox"/"container") and io.kubernetes.cri.sandbox-id;
//   CRI-O           io.kubernetes.cri-o.ContainerType and
//                   io.kubernetes.cri-o.SandboxID;
//   Podman 4 pods  the infra container is a sandbox: annotation
//                   io.container.manager=libpod and process.args exactly
//                   ["/catatonit", "-P"] (Podman sets no pod annotation;
//                   catatonit's -P "pause" mode is what only the infra
//                   container runs; `podman run --init` runs
//                   /run/podman-init instead); with --infra-command or
//                   --infra-image any command: then the container of a
//                   pod's cgroup (linux.cgroupsPath names the pod id) that
//                   joins no /proc/<pid>/ns of another container, as the
//                   members join the infra's. Its members are found from
//                   their namespace paths, as below;
//   Podman pods and any runc user: a linux.namespaces path
//                   /proc/<pid>/ns/... whose <pid> is a runvm container's
//                   shim (the infra container's), looked up under --root.
// A sandbox gets a VM that can take members; a member runs in its
// sandbox's VM. The annotations win over a namespace path.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "spec/base/result.h"
#include "spec/config.h"

namespace runvm::cli {

inline constexpr char kCriContainerType[] = "io.kubernetes.cri.container-type";
inline constexpr char kCriSandboxId[] = "io.kubernetes.cri.sandbox-id";
inline constexpr char kCrioContainerType[] = "io.kubernetes.cri-o.ContainerType";
inline constexpr char kCrioSandboxId[] = "io.kubernetes.cri-o.SandboxID";
inline constexpr char kContainerManager[] = "io.container.manager";

struct PodRole {
  enum Kind { kNone, kSandbox, kMember };
  Kind kind = kNone;
  std::string sandbox_id;  // kMember: the sandbox container's id
  // kMember found from a namespace path, not annotations: a sandbox that
  // takes no members then leaves the container in a VM of its own.
  bool by_namespace = false;
  bool operator==(const PodRole&) const = default;
};

// The id of the runvm container whose shim has pid `pid`, if any.
using ShimOwner = std::function<std::optional<std::string>(long pid)>;

// The container's role. A member whose sandbox id is its own id, or an
// unknown container type, is an error naming the annotation. `self` is the
// container's own id.
Result<PodRole> pod_role(const oci::Config& config, const std::string& self,
                         const ShimOwner& shim_owner);

// Whether `config` is a Podman pod's infra container (see above).
bool is_podman_infra(const oci::Config& config);

// Whether a linux.cgroupsPath is a container's in a Podman pod's cgroup:
// "<parent>/<64-hex pod id>/libpod-<id>" (cgroupfs) or
// "...libpod_pod_<64-hex pod id>.slice:libpod:<id>" (systemd).
bool in_podman_pod_cgroup(const std::string& cgroups_path);

// The pid in "/proc/<pid>/ns/<name>", if `path` is exactly that.
std::optional<long> proc_ns_pid(const std::string& path);

}  // namespace runvm::cli
