// A virtio-fs share of the shim's own stdio where it is a regular file, so
// the container's process gets a regular file too, as under runc: the root
// directory holds "0", "1" and/or "2", and I/O on them is read(2)/write(2)
// on the shim's inherited fd, so the offset (shared with the caller) and
// O_APPEND are the host file's. The guest's own offset is ignored (direct
// I/O, no page cache); attributes are the host file's, never cached. Only
// the fds given are served, read-only for stdin and write-only for the
// others; the guest may truncate an output file (ftruncate), nothing else.
#pragma once

#include <array>

#include "shim/fs/fuse_request.h"
#include "shim/fs/fuse_server.h"

namespace runvm {

class StdioFs : public FuseServer {
 public:
  // fds[i]: the shim's fd i (borrowed) when it is served, else -1.
  explicit StdioFs(std::array<int, 3> fds) : FuseServer(32), fds_(fds) {}

 private:
  using Request = fuse::Request;
  using Reply = fuse::ReplyWriter;

  uint32_t dispatch(const Request& req, Reply& rw) override;
  uint32_t op_init(const Request& req, Reply& rw);
  uint32_t op_lookup(const Request& req, Reply& rw);
  uint32_t op_getattr(uint64_t nodeid, Reply& rw);
  uint32_t op_setattr(const Request& req, Reply& rw);
  uint32_t op_open(const Request& req, Reply& rw);
  uint32_t op_read(const Request& req, Reply& rw);
  uint32_t op_write(const Request& req, Reply& rw);
  // The served fd of a node, or -1 (the root, or nothing served there).
  int fd_of(uint64_t nodeid) const;
  bool attr_of(uint64_t nodeid, fuse_attr& out) const;

  std::array<int, 3> fds_;
  bool initialized_ = false;
};

}  // namespace runvm
