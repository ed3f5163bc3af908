// What FsDevice drives: a FUSE server that answers one request per
// descriptor chain (PassthroughFs for a directory, StdioFs for the shim's
// own stdio files). The base parses each chain and sizes INIT's max_pages
// to the queue; a server only dispatches parsed requests.
#pragma once

#include <cstdint>

#include "shim/fs/fuse_request.h"
#include "shim/fs/fuse_stats.h"
#include "shim/virtio/virtqueue.h"

namespace runvm {

class FuseServer {
 public:
  static constexpr uint32_t kPageSize = 4096;
  static constexpr uint32_t kMaxPages = 256;
  // FUSE minor versions we speak (virtio-fs needs 7.31+).
  static constexpr uint32_t kMinMinor = 31;

  virtual ~FuseServer() = default;
  // Handles one request; returns the bytes written into chain.writable
  // (0: no reply, e.g. FORGET or a chain too malformed to answer).
  uint32_t handle(const DescChain& chain);
  // Caps INIT's max_pages so a request fits in a queue of `queue_size`
  // descriptors (we take no indirect descriptors).
  void set_queue_size(uint16_t queue_size);
  // Requests served so far, per opcode, with the time spent serving them.
  const fuse::Stats& stats() const { return stats_; }

 protected:
  explicit FuseServer(uint32_t max_pages) : max_pages_(max_pages) {}
  // Answers one well-formed request.
  virtual uint32_t dispatch(const fuse::Request& req, fuse::ReplyWriter& rw) = 0;
  uint32_t max_pages() const { return max_pages_; }
  fuse::Stats& mutable_stats() { return stats_; }
  // INIT's arguments (what versions before 7.36 leave out is zeroed): 0, or
  // the errno to refuse a malformed request or an unsupported version with.
  static int parse_init(const fuse::Request& req, fuse_init_in& in);

 private:
  fuse::RequestParser parser_;
  fuse::Stats stats_;
  uint32_t max_pages_;
};

}  // namespace runvm
