#include "shim/net/container_network.h"

#include "spec/base/log.h"

namespace runvm::net {

namespace {

// The namespace's path; empty: loopback only.
std::string netns_path(const oci::Config& config) {
  const oci::Namespace* netns = nullptr;
  if (config.linux_)
    for (const auto& ns : config.linux_->namespaces)
      if (ns.type == oci::NamespaceType::kNetwork) netns = &ns;
  if (!netns) {
    log::warn(
        "config.json has no network namespace (host network): a VM cannot share the host's "
        "network, the container gets loopback only");
    return "";
  }
  return netns->path;
}

}  // namespace

Result<std::optional<TapBridge>> attach_container_network(const oci::Config& config) {
  std::string path = netns_path(config);
  if (path.empty()) return std::optional<TapBridge>();
  return std::optional<TapBridge>(RUNVM_TRY(TapBridge::attach(path)));
}

Result<std::optional<TapBridge>> claim_container_network(const oci::Config& config, PoolNic& nic) {
  std::string path = netns_path(config);
  if (path.empty()) return std::optional<TapBridge>();
  return nic.claim(path);
}

std::vector<TapDevice> tap_devices(const TapBridge& bridge) {
  std::vector<TapDevice> out;
  for (const auto& tap : bridge.taps())
    out.push_back({tap.fd.get(), proto::mac_to_string(tap.mac)});
  return out;
}

}  // namespace runvm::net
