// What a virtio device backend implements; the transport (vhost-user) owns
// the rings' negotiation and hands started queues to the device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shim/virtio/virtqueue.h"

namespace runvm {

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  // Device feature bits (VIRTIO_F_VERSION_1 etc. included by the device).
  virtual uint64_t features() const = 0;
  // Number of queues this backend serves.
  virtual size_t num_queues() const = 0;
  // Device configuration space (vhost-user GET_CONFIG).
  virtual std::vector<uint8_t> config() const { return {}; }

  // Driver-acked features, before any queue starts.
  virtual void set_features(uint64_t acked) = 0;
  // Queue `idx` is running; `q` stays valid until queue_stopped(idx).
  virtual void queue_started(size_t idx, VirtQueue* q) = 0;
  virtual void queue_stopped(size_t idx) = 0;
  // The driver kicked queue `idx`.
  virtual void queue_kicked(size_t idx) = 0;
};

}  // namespace runvm
