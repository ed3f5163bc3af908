// `create` keeps a copy of the config.json the container was created from
// in its state directory (<root>/<id>/config.json), as runc keeps its
// config in its state: hooks and `update` read it later even if the bundle
// has changed meanwhile. `update` records what it changed beside it
// (<root>/<id>/resources.json, a LinuxResources object), which
// load_config_snapshot() applies, so later verbs see the current limits.
#pragma once

#include <string>
#include <vector>

#include "runtime/container_dir.h"
#include "runtime/update_request.h"
#include "spec/config.h"

namespace runvm::cli {

Status save_config_snapshot(const ContainerDir& dir, const std::string& bundle_dir);
// A container created before snapshots existed has an empty config.
Result<oci::Config> load_config_snapshot(const ContainerDir& dir);
// Records `changes` (runvm update's, normalised) over earlier ones.
Status save_resource_updates(const ContainerDir& dir, const std::vector<ResourceUpdate>& changes);

}  // namespace runvm::cli
