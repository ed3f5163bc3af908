// The config.json `runvm spec` writes: runc 1.1's `runc spec` output byte for
// byte (specconv.Example(), with ToRootless() for --rootless).
#pragma once

#include <cstdint>
#include <string>

namespace runvm::oci {

struct DefaultSpecOptions {
  bool rootless = false;
  bool cgroup_ns = false;  // runc adds a cgroup namespace on cgroup v2 hosts
  uint32_t uid = 0;        // rootless: the host ids mapped to root
  uint32_t gid = 0;
};

std::string default_config_json(const DefaultSpecOptions& opts);

// As runc decides: cgroup namespace when /sys/fs/cgroup is cgroup2, and the
// effective uid/gid for the rootless mappings.
std::string default_config_json(bool rootless);

}  // namespace runvm::oci
