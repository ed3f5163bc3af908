#include "runtime/pod_role.h"

#include <cerrno>
#include <cstdlib>

namespace runvm::cli {

namespace {

std::optional<std::string> annotation(const oci::Config& c, const char* key) {
  auto it = c.annotations.find(key);
  if (it == c.annotations.end()) return std::nullopt;
  return it->second;
}

// One engine's pair of annotations; nullopt when it set neither.
Result<std::optional<PodRole>> from_annotations(const oci::Config& c, const std::string& self,
                                                const char* type_key, const char* id_key) {
  auto type = annotation(c, type_key);
  auto id = annotation(c, id_key);
  if (!type && !id) return std::optional<PodRole>();
  if (!type) return make_error(std::string("annotations: ") + id_key + " without " + type_key);
  if (*type == "sandbox") return std::optional(PodRole{PodRole::kSandbox, ""});
  if (*type != "container")
    return make_error(std::string("annotations: ") + type_key + ": unknown container type \"" +
                      *type + "\"");
  if (!id || id->empty())
    return make_error(std::string("annotations: ") + type_key + " is \"container\" but " + id_key +
                      " is missing");
  if (*id == self)
    return make_error(std::string("annotations: ") + id_key + ": names the container itself");
  return std::optional(PodRole{PodRole::kMember, *id});
}

}  // namespace

namespace {

bool is_pod_id(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

bool in_podman_pod_cgroup(const std::string& cgroups_path) {
  // systemd: "machine-libpod_pod_<pod id>.slice:libpod:<id>" (rootless:
  // "user-libpod_pod_<pod id>.slice:...").
  if (auto at = cgroups_path.find("libpod_pod_"); at != std::string::npos) {
    std::string_view rest = std::string_view(cgroups_path).substr(at + 11);
    return rest.size() > 64 && is_pod_id(rest.substr(0, 64)) && rest.substr(64, 6) == ".slice";
  }
  // cgroupfs: "<cgroup parent>/<pod id>/libpod-<id>".
  size_t last = cgroups_path.rfind('/');
  if (last == std::string::npos || last < 65) return false;
  size_t parent = cgroups_path.rfind('/', last - 1);
  if (parent == std::string::npos) return false;
  return is_pod_id(std::string_view(cgroups_path).substr(parent + 1, last - parent - 1)) &&
         cgroups_path.compare(last + 1, 7, "libpod-") == 0;
}

bool is_podman_infra(const oci::Config& config) {
  if (annotation(config, kContainerManager) != "libpod") return false;
  if (config.process && config.process->args == std::vector<std::string>{"/catatonit", "-P"})
    return true;
  // `pod create --infra-command/--infra-image`: any command. The infra is
  // the container of a pod's cgroup that joins no other container's
  // namespace (the members join the infra's through /proc/<pid>/ns); a
  // network namespace Podman made for the pod is a /run/netns path.
  if (!config.linux_ || !in_podman_pod_cgroup(config.linux_->cgroups_path)) return false;
  for (const auto& ns : config.linux_->namespaces)
    if (proc_ns_pid(ns.path)) return false;
  return true;
}

std::optional<long> proc_ns_pid(const std::string& path) {
  constexpr std::string_view kPrefix = "/proc/";
  if (path.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  size_t i = kPrefix.size(), start = i;
  while (i < path.size() && path[i] >= '0' && path[i] <= '9') ++i;
  if (i == start || i - start > 9 || path[start] == '0') return std::nullopt;
  std::string_view rest = std::string_view(path).substr(i);
  constexpr std::string_view kNs = "/ns/";
  if (rest.substr(0, kNs.size()) != kNs) return std::nullopt;
  std::string_view name = rest.substr(kNs.size());
  if (name.empty() || name.find('/') != std::string_view::npos) return std::nullopt;
  return std::strtol(path.c_str() + start, nullptr, 10);
}

Result<PodRole> pod_role(const oci::Config& config, const std::string& self,
                         const ShimOwner& shim_owner) {
  if (auto r = RUNVM_TRY(from_annotations(config, self, kCriContainerType, kCriSandboxId)))
    return *r;
  if (auto r = RUNVM_TRY(from_annotations(config, self, kCrioContainerType, kCrioSandboxId)))
    return *r;
  if (is_podman_infra(config)) return PodRole{PodRole::kSandbox, ""};
  // Podman's pods and runc users: joining a namespace of a runvm shim's.
  if (config.linux_ && shim_owner) {
    for (const auto& ns : config.linux_->namespaces) {
      auto pid = proc_ns_pid(ns.path);
      if (!pid) continue;
      if (auto owner = shim_owner(*pid)) return PodRole{PodRole::kMember, *owner, true};
    }
  }
  return PodRole{};
}

}  // namespace runvm::cli
