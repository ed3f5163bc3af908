// A container's state directory under --root and its lock. Layout:
//   <root>/<id>/state.json   written by runvm create (spec/state.h)
//   <root>/<id>/status       written by the shim at each transition
//   <root>/<id>/lock         flock()ed by verbs that change the container
//   plus the VM's logs (console.log, qemu.log, shim.log).
// Sockets live apart, in <root>/@s/<hash of id>/ (shim.sock, qmp.sock, the
// vhost-user and hybrid vsock sockets): a 64-character id under a root like
// containerd's /run/containerd/runc/k8s.io would overflow sun_path's 108
// bytes. '@' cannot occur in an id, so `list` never mistakes it for one.
#pragma once

#include <string>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {

// runc's rule: letters, digits, '_', '+', '-', '.'; not "." or "..".
Status validate_id(const std::string& id);

class ContainerDir {
 public:
  static constexpr char kSocketsName[] = "@s";  // <root>/@s holds the socket dirs

  ContainerDir(const std::string& root, const std::string& id) : root_(root), id_(id) {}

  const std::string& id() const { return id_; }
  std::string path() const { return root_ + "/" + id_; }
  std::string file(const char* name) const { return path() + "/" + name; }
  std::string socket_dir() const;
  std::string socket(const char* name) const { return socket_dir() + "/" + name; }
  bool exists() const;

  // Creates both directories; fails with runc's message if the id is taken,
  // or if the root is too long for socket paths.
  Status create();
  // Takes the container's lock (blocking); released with the returned fd.
  Result<UniqueFd> lock() const;
  // Removes both directories and everything in them.
  Status remove() const;

 private:
  std::string root_, id_;
};

}  // namespace runvm::cli
