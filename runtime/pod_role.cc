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

bool is_podman_infra(const oci::Config& config) {
  if (annotation(config, kContainerManager) != "libpod") return false;
  return config.process && config.process->args == std::vector<std::string>{"/catatonit", "-P"};
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
