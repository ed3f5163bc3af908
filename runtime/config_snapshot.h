// `create` keeps a copy of the config.json the container was created from
// in its state directory (<root>/<id>/config.json), as runc keeps its
// config in its state: hooks and `update` read it later even if the bundle
// has changed meanwhile.
#pragma once

#include <string>

#include "runtime/container_dir.h"
#include "spec/config.h"

namespace runvm::cli {

Status save_config_snapshot(const ContainerDir& dir, const std::string& bundle_dir);
// A container created before snapshots existed has an empty config.
Result<oci::Config> load_config_snapshot(const ContainerDir& dir);

}  // namespace runvm::cli
