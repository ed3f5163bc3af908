// What runvm can apply in the guest, checked on the host at create so a bad
// config fails before a VM boots: capability names (libcap), rlimit names,
// seccomp (libseccomp; no notify listener), sysctl keys, mount types and
// bind sources. Errors name the JSON path, e.g.
// "process.capabilities.bounding[2]: unknown capability "CAP_FOO"".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "spec/base/result.h"
#include "spec/config.h"

namespace runvm::oci {

runvm::Status check_supported(const Config& config);

// Syntax of a linux.sysctl key ("net.ipv4.ip_forward" or "net/ipv4/..."):
// components of [A-Za-z0-9_-], no empty ones, so it stays under /proc/sys.
bool valid_sysctl_key(std::string_view key);

// Whether a mount is a bind mount (type "bind", or option bind/rbind).
bool is_bind_mount(const Mount& m);

// The fields of the config runvm accepts but cannot honour in a VM
// (apparmorProfile, selinuxLabel, ...), one human line each.
std::vector<std::string> ignored_settings(const Config& config);

}  // namespace runvm::oci
