// What FsDevice drives: a FUSE server that answers one request per
// descriptor chain (PassthroughFs for a directory, StdioFs for the shim's
// own stdio files).
#pragma once

#include <cstdint>

#include "shim/virtio/virtqueue.h"

namespace runvm {

class FuseServer {
 public:
  virtual ~FuseServer() = default;
  // Handles one request; returns the bytes written into chain.writable
  // (0: no reply, e.g. FORGET or a chain too malformed to answer).
  virtual uint32_t handle(const DescChain& chain) = 0;
  // Caps INIT's max_pages so a request fits in a queue of `queue_size`
  // descriptors (we take no indirect descriptors).
  virtual void set_queue_size(uint16_t queue_size) = 0;
};

}  // namespace runvm
