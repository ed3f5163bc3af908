#include "shim/fs/fs_device.h"

#include <linux/virtio_config.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

#include "spec/base/log.h"

namespace runvm {

Result<std::unique_ptr<FsDevice>> FsDevice::create(EventLoop& loop, FsConfig cfg) {
  std::shared_ptr<PassthroughFs> fs = RUNVM_TRY(PassthroughFs::create(std::move(cfg)));
  PassthroughFs* raw = fs.get();
  std::unique_ptr<FsDevice> dev(new FsDevice(loop, std::move(fs), raw));
  RUNVM_CHECK(dev->start_rerun_fd());
  return dev;
}

Result<std::unique_ptr<FsDevice>> FsDevice::create(EventLoop& loop,
                                                   std::shared_ptr<FuseServer> server) {
  std::unique_ptr<FsDevice> dev(new FsDevice(loop, std::move(server), nullptr));
  RUNVM_CHECK(dev->start_rerun_fd());
  return dev;
}

FsDevice::~FsDevice() {
  if (rerun_fd_) loop_.remove(rerun_fd_.get());
}

Status FsDevice::start_rerun_fd() {
  rerun_fd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!rerun_fd_) return errno_error("virtio-fs: eventfd");
  return loop_.add(rerun_fd_.get(), EPOLLIN, [this](uint32_t) { on_rerun(); });
}

std::string FsDevice::format_stats() const {
  std::string out = stats().format() + queue_stats_.format();
  if (auto* stock = fs_ ? fs_->tmpfile_stock() : nullptr)
    out += "fuse-stock taken=" + std::to_string(stock->taken()) +
           " missed=" + std::to_string(stock->missed()) +
           " dropped=" + std::to_string(stock->dropped()) + "\n";
  return out;
}

uint64_t FsDevice::features() const { return 1ULL << VIRTIO_F_VERSION_1; }

void FsDevice::queue_started(size_t idx, VirtQueue* q) {
  if (idx >= kNumQueues) return;
  queues_[idx] = q;
  broken_[idx] = false;
  if (idx == kRequestQueue) server_->set_queue_size(q->size());
  run(idx);  // requests may already be waiting
}

void FsDevice::queue_stopped(size_t idx) {
  if (idx >= kNumQueues) return;
  queues_[idx] = nullptr;
  pending_[idx] = false;
}

void FsDevice::queue_kicked(size_t idx) {
  if (idx == kRequestQueue) queue_stats_.record_kick();
  if (idx < kNumQueues) run(idx);
}

void FsDevice::run(size_t idx) {
  pending_[idx] = false;
  if (!process_batch(idx)) return;
  // Yield to the loop (vsock and other fds) and continue from on_rerun.
  pending_[idx] = true;
  uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(rerun_fd_.get(), &one, sizeof one);
}

void FsDevice::on_rerun() {
  uint64_t v;
  [[maybe_unused]] auto r = ::read(rerun_fd_.get(), &v, sizeof v);
  for (size_t i = 0; i < kNumQueues; ++i)
    if (pending_[i]) run(i);
}

namespace {
uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}
}  // namespace

bool FsDevice::process_batch(size_t idx) {
  VirtQueue* q = queues_[idx];
  if (!q || broken_[idx]) return false;
  int handled = 0;
  const uint64_t start = now_ns();
  // Notifies the driver of the batch and accounts for it (request queue only:
  // hiprio's FORGETs get no reply and nobody waits on them).
  auto finish = [&] {
    const bool interrupted = q->notify();
    if (idx == kRequestQueue && handled > 0)
      queue_stats_.record_batch(static_cast<uint64_t>(handled), start, now_ns(), interrupted);
  };
  for (;;) {
    for (;;) {
      if (handled == kMaxBatch) {
        finish();
        return true;
      }
      auto popped = q->pop(chain_);
      if (!popped.ok()) {
        // A malformed ring: the driver is broken or hostile; stop serving it.
        log::error("virtio-fs: queue " + std::to_string(idx) + ": " + popped.error().message);
        broken_[idx] = true;
        finish();
        return false;
      }
      if (!*popped) break;
      uint32_t len = server_->handle(chain_);
      ++handled;
      if (auto s = q->push_used(chain_.head, len); !s.ok()) {
        broken_[idx] = true;
        return false;
      }
    }
    if (!q->enable_kicks()) break;
  }
  finish();
  return false;
}

}  // namespace runvm
