// The layout of a container's state, defined once: the file and socket names
// `runvm` (runtime/container_dir.h), `runvm-shim` and the tests agree on.
//   <root>/<id>/ (state dir): state.json, status, lock, config.json and the
//     logs (console.log, qemu.log, shim.log);
//   <root>/@s/<hash of id>/ (socket dir): shim.sock, vsock.sock and the
//     hybrid vsock ports vsock.sock_<port>, the vhost-user sockets
//     (vsock.vhost, fs<N>.vhost). Apart because sun_path is short.
// The vsock port numbers are the agent protocol's (guest/protocol/constants.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace runvm::layout {

// In the state dir.
inline constexpr char kStateFile[] = "state.json";  // written by runvm create (spec/state.h)
inline constexpr char kStatusFile[] = "status";     // written by the shim at each transition
// The shim's preallocated next status, swapped with kStatusFile on each
// change (shim/container/status_file.h): no change needs new space.
inline constexpr char kStatusSpareFile[] = "status.spare";
inline constexpr char kLockFile[] = "lock";  // flock()ed by verbs that change the container
inline constexpr char kConfigFile[] = "config.json";  // the bundle's config as created
// runvm update's successful changes over kConfigFile (a LinuxResources object).
inline constexpr char kResourceUpdatesFile[] = "resources.json";
inline constexpr char kConsoleLog[] = "console.log";  // the guest's serial console
inline constexpr char kEngineLog[] = "qemu.log";
inline constexpr char kShimLog[] = "shim.log";
// The number of the container's processes the guest OOM-killed, written by
// the shim when its exit reports any (`runvm events` turns it into "oom").
inline constexpr char kOomKillsFile[] = "oom-kills";
// The interfaces of the shim's fresh network namespace at create
// (runtime/network_namespace.h).
inline constexpr char kNetnsInterfacesFile[] = "netns-interfaces";
// A pod sandbox's share (issue 12): its members' rootfs, bound by its shim.
inline constexpr char kPodDir[] = "pod";
// In the pod dir: members' bind sources, at <member id>/<n>/<name> ('@' is in
// no container id).
inline constexpr char kPodBindsDir[] = "@binds";

// Under the root: holds the socket dirs. '@' cannot occur in an id, so
// `list` never mistakes it for a container.
inline constexpr char kSocketsDir[] = "@s";

// In the socket dir.
inline constexpr char kShimSocket[] = "shim.sock";    // the shim's control socket
inline constexpr char kVsockSocket[] = "vsock.sock";  // hybrid vsock: host clients CONNECT here
inline constexpr char kVsockBackendSocket[] = "vsock.vhost";  // vhost-user, QEMU's end

inline std::string fs_backend_socket(size_t index) {
  return "fs" + std::to_string(index) + ".vhost";
}

// Hybrid vsock: the guest's connections to host port P arrive on a socket
// listening at <vsock socket>_P.
inline std::string vsock_port_socket(const std::string& vsock_path, uint32_t port) {
  return vsock_path + "_" + std::to_string(port);
}

// The longest name in the socket dir: a vsock port's ("vsock.sock_" and a
// 32-bit port).
inline constexpr size_t kLongestSocketName = sizeof(kVsockSocket) - 1 + sizeof("_4294967295") - 1;

}  // namespace runvm::layout
