// A container's state directory under --root and its lock. Layout:
//   <root>/<id>/state.json   written by runvm create (spec/state.h)
//   <root>/<id>/status       written by the shim at each transition
//   <root>/<id>/shim.sock    the shim's control socket
//   <root>/<id>/lock         flock()ed by verbs that change the container
//   plus the VM's sockets and logs (console.log, qemu.log, shim.log)
#pragma once

#include <string>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {

// runc's rule: letters, digits, '_', '+', '-', '.'; not "." or "..".
Status validate_id(const std::string& id);

class ContainerDir {
 public:
  ContainerDir(const std::string& root, const std::string& id) : root_(root), id_(id) {}

  const std::string& id() const { return id_; }
  std::string path() const { return root_ + "/" + id_; }
  std::string file(const char* name) const { return path() + "/" + name; }
  bool exists() const;

  // Creates the directory; fails with runc's message if the id is taken.
  Status create();
  // Takes the container's lock (blocking); released with the returned fd.
  Result<UniqueFd> lock() const;
  // Removes the directory and everything in it.
  Status remove() const;

 private:
  std::string root_, id_;
};

}  // namespace runvm::cli
