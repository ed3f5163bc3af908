// virtio-fs device backend for QEMU's vhost-user-fs-device: the front-end
// keeps the config space (tag, num_request_queues); we serve the queues.
// Queue 0 is hiprio (FORGET, BATCH_FORGET, INTERRUPT), queue 1 the one
// request queue. Requests are handled on the EventLoop thread in batches,
// with one notification per batch.
#pragma once

#include <memory>
#include <string>

#include "shim/fs/fs_config.h"
#include "shim/fs/fuse_server.h"
#include "shim/fs/passthrough_fs.h"
#include "shim/virtio/device.h"
#include "spec/base/event_loop.h"

namespace runvm {

class FsDevice : public VirtioDevice {
 public:
  static constexpr size_t kHiprioQueue = 0, kRequestQueue = 1, kNumQueues = 2;
  // Requests handled per kick before the loop gets a turn (fairness).
  static constexpr int kMaxBatch = 64;

  static Result<std::unique_ptr<FsDevice>> create(EventLoop& loop, FsConfig cfg);
  // Any other FUSE server (StdioFs).
  static Result<std::unique_ptr<FsDevice>> create(EventLoop& loop,
                                                  std::shared_ptr<FuseServer> server);
  ~FsDevice() override;
  FsDevice(const FsDevice&) = delete;
  FsDevice& operator=(const FsDevice&) = delete;

  uint64_t features() const override;
  size_t num_queues() const override { return kNumQueues; }
  void set_features(uint64_t) override {}
  void queue_started(size_t idx, VirtQueue* q) override;
  void queue_stopped(size_t idx) override;
  void queue_kicked(size_t idx) override;

  // Requests served so far, per FUSE opcode.
  const fuse::Stats& stats() const { return server_->stats(); }
  // How the request queue's requests arrived and left (batches, interrupts,
  // time served vs. time between batches).
  const fuse::QueueStats& queue_stats() const { return queue_stats_; }
  // Both, as lines for a log or a stats file.
  // With a TmpfileStock, a "fuse-stock taken=.. missed=.." line too.
  std::string format_stats() const;
  // The passthrough server; null for another kind.
  PassthroughFs* fs() { return fs_; }

 private:
  FsDevice(EventLoop& loop, std::shared_ptr<FuseServer> server, PassthroughFs* fs)
      : loop_(loop), server_(std::move(server)), fs_(fs) {}
  Status start_rerun_fd();
  // Handles up to kMaxBatch chains, then notifies once. Returns true if the
  // batch limit cut it short (more may be waiting).
  bool process_batch(size_t idx);
  void run(size_t idx);
  void on_rerun();

  EventLoop& loop_;
  std::shared_ptr<FuseServer> server_;
  PassthroughFs* fs_;  // server_, when it is one
  UniqueFd rerun_fd_;  // eventfd: continue a queue after yielding to the loop
  VirtQueue* queues_[kNumQueues] = {nullptr, nullptr};
  bool broken_[kNumQueues] = {false, false};
  bool pending_[kNumQueues] = {false, false};
  DescChain chain_;
  fuse::QueueStats queue_stats_;
};

}  // namespace runvm
