#include "runtime/config_snapshot.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "spec/base/atomic_file.h"
#include "spec/base/state_layout.h"

namespace runvm::cli {

Status save_config_snapshot(const ContainerDir& dir, const std::string& bundle_dir) {
  std::error_code ec;
  std::filesystem::copy_file(bundle_dir + "/config.json", dir.file(layout::kConfigFile),
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return make_error("copy config.json: " + ec.message());
  return {};
}

namespace {

// The earlier updates; none when there is no file.
Result<std::vector<ResourceUpdate>> load_updates(const ContainerDir& dir) {
  std::ifstream in(dir.file(layout::kResourceUpdatesFile));
  if (!in) return std::vector<ResourceUpdate>();
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_resources_json(ss.str()).context(layout::kResourceUpdatesFile);
}

}  // namespace

Result<oci::Config> load_config_snapshot(const ContainerDir& dir) {
  std::ifstream in(dir.file(layout::kConfigFile));
  if (!in) return oci::Config{};
  std::stringstream ss;
  ss << in.rdbuf();
  oci::Config config = RUNVM_TRY(oci::parse_config(ss.str()).context("config.json"));
  auto updates = RUNVM_TRY(load_updates(dir));
  if (!updates.empty()) {
    if (!config.linux_) config.linux_.emplace();
    if (!config.linux_->resources) config.linux_->resources.emplace();
    apply_updates(*config.linux_->resources, updates);
  }
  return config;
}

Status save_resource_updates(const ContainerDir& dir, const std::vector<ResourceUpdate>& changes) {
  auto earlier = RUNVM_TRY(load_updates(dir));
  return write_file_atomic(dir.file(layout::kResourceUpdatesFile),
                           resources_json(earlier, changes));
}

}  // namespace runvm::cli
