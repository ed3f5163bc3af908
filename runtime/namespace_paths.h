// linux.namespaces entries with a path, checked on the host at create.
//
// A path must name a namespace of the entry's type (runc's rule: a
// /proc/self/ns/net given as "mount" is an error). What joining it means for
// a container in its own microVM:
//   network  the VM's host side (shim and QEMU) joins it: that is where the
//            container's network lives (CNI, netavark and Kubernetes pods
//            pass one).
//   others   the guest kernel has its own; a host process's namespace cannot
//            be shared with it, so such a path is refused. A runvm
//            container's namespace (/proc/<pid>/ns/... of a runvm-shim, as
//            Kubernetes and Podman pods pass for ipc, uts and pid) is
//            accepted: if that container is a pod sandbox, the container is
//            a member of its VM (runtime/pod_role.h; this check is skipped
//            then), else it has its own.
// man/runvm.8 (NAMESPACES) says the same.
#pragma once

#include <string>
#include <vector>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"
#include "spec/config.h"

namespace runvm::cli {

// Which process a /proc/<pid>/ns/<name> path belongs to: its executable's
// file name (readlink of /proc/<pid>/exe without " (deleted)"); empty for
// any other path or an unreadable one.
std::string namespace_owner_exe(const std::string& path);

// Checks every entry; returns the network namespace to join (or an invalid
// fd). Errors name the entry: "linux.namespaces[1].path: ...".
Result<UniqueFd> check_namespace_paths(const std::vector<oci::Namespace>& namespaces);

}  // namespace runvm::cli
