#include "runtime/config_snapshot.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "spec/base/state_layout.h"

namespace runvm::cli {

Status save_config_snapshot(const ContainerDir& dir, const std::string& bundle_dir) {
  std::error_code ec;
  std::filesystem::copy_file(bundle_dir + "/config.json", dir.file(layout::kConfigFile),
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return make_error("copy config.json: " + ec.message());
  return {};
}

Result<oci::Config> load_config_snapshot(const ContainerDir& dir) {
  std::ifstream in(dir.file(layout::kConfigFile));
  if (!in) return oci::Config{};
  std::stringstream ss;
  ss << in.rdbuf();
  return oci::parse_config(ss.str()).context("config.json");
}

}  // namespace runvm::cli
