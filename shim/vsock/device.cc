#include "shim/vsock/device.h"

#include <linux/sockios.h>
#include <linux/virtio_config.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "spec/base/timeline.h"

namespace runvm {

using vsock::Connection;

Result<std::unique_ptr<VsockDevice>> VsockDevice::create(EventLoop& loop, VsockConfig cfg) {
  if (cfg.guest_cid <= vsock::kHostCid || cfg.guest_cid >= UINT32_MAX)
    return make_error("vsock: invalid guest cid " + std::to_string(cfg.guest_cid), EINVAL);
  std::unique_ptr<VsockDevice> dev(new VsockDevice(loop, std::move(cfg)));
  RUNVM_CHECK(dev->start_timer());
  if (!dev->cfg_.uds_path.empty()) {
    VsockDevice* self = dev.get();
    dev->listener_ = RUNVM_TRY(vsock::HostListener::create(
        loop, dev->cfg_.uds_path, dev->cfg_.timeout,
        [self](UniqueFd client, uint32_t port) { self->on_host_client(std::move(client), port); }));
  }
  return dev;
}

VsockDevice::~VsockDevice() {
  for (auto& [key, ch] : channels_)
    if (ch->events) loop_.remove(ch->fd.get());
}

void VsockDevice::set_port_handler(uint32_t port, std::function<Result<UniqueFd>()> open) {
  port_handlers_[port] = std::move(open);
}

uint64_t VsockDevice::features() const {
  return (1ULL << VIRTIO_F_VERSION_1) | (1ULL << vring::kEventIdxFeature);
}

std::vector<uint8_t> VsockDevice::config() const {
  std::vector<uint8_t> c(sizeof(virtio_vsock_config));
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<uint8_t>(cfg_.guest_cid >> (8 * i));
  return c;
}

void VsockDevice::set_features(uint64_t) {}  // EVENT_IDX is applied by the transport's VirtQueue

void VsockDevice::queue_started(size_t idx, VirtQueue* q) {
  if (idx > kTxQueue) return;
  broken_[idx] = false;
  if (idx == kRxQueue) {
    rxq_ = q;
    queue_kicked(kRxQueue);  // buffers may already be waiting
  } else {
    txq_ = q;
    // The guest's driver is up: a milestone of its kernel's boot.
    if (!std::exchange(tx_started_once_, true)) timeline::mark("vsock_driver_ready");
    run_tx();
  }
}

void VsockDevice::queue_stopped(size_t idx) {
  // Connections survive (the VM may only be paused); they just stall.
  if (idx == kRxQueue) {
    rxq_ = nullptr;
    for (auto& [key, ch] : channels_) update_interest(key, *ch);
  } else if (idx == kTxQueue) {
    txq_ = nullptr;
  }
}

void VsockDevice::queue_kicked(size_t idx) {
  if (idx == kRxQueue) {
    rx_stalled_ = false;
    pump_rx();
    for (auto& [key, ch] : channels_) update_interest(key, *ch);
    if (tx_throttled_) run_tx();
  } else if (idx == kTxQueue) {
    run_tx();
  }
}

Status VsockDevice::start_timer() {
  // Deadlines are checked at a quarter of the timeout, at most once a second.
  std::chrono::milliseconds tick(
      std::clamp<std::chrono::milliseconds::rep>(cfg_.timeout.count() / 4, 10, 1000));
  timer_ = std::make_unique<Timer>(loop_, [this] { on_timer(); });
  timer_->arm(tick, tick);
  if (!timer_->armed()) return make_error("vsock: the deadline timer could not be armed");
  return {};
}

bool VsockDevice::host_reader_progressed(Channel& ch) {
  int unread = -1;
  if (ioctl(ch.fd.get(), SIOCOUTQ, &unread) != 0) unread = -1;
  bool progressed = ch.written != ch.written_seen ||
                    (unread >= 0 && ch.unread_seen >= 0 && unread < ch.unread_seen);
  ch.written_seen = ch.written;
  ch.unread_seen = unread;
  return progressed;
}

void VsockDevice::on_timer() {
  auto now = Clock::now();
  std::vector<Key> expired;
  size_t flushing = 0;
  for (auto& [key, ch] : channels_) {
    // A slow reader wakes us only once it read most of its socket's buffer:
    // what it has not read yet tells that it reads meanwhile.
    int unread = -1;
    if (ioctl(ch->fd.get(), SIOCOUTQ, &unread) != 0) unread = -1;
    bool reading = unread >= 0 && ch->unread_at_tick >= 0 && unread < ch->unread_at_tick;
    ch->unread_at_tick = unread;
    if (reading) host_reads_.fetch_add(1, std::memory_order_relaxed);
    if (!ch->to_host.empty() || (ch->conn.closing() && !ch->timed_out) || reading) ++flushing;
    if (ch->deadline && *ch->deadline <= now) expired.push_back(key);
  }
  flushing_.store(flushing, std::memory_order_relaxed);
  for (Key key : expired) {
    Channel& ch = *channels_.at(key);
    if (ch.timed_out) {  // even the RST could not be delivered: just forget it
      destroy(key);
      continue;
    }
    // The guest closed (or reset) it and its host reader still takes its
    // last data, however slowly (a pipe to a slow consumer): it gets another
    // timeout.
    // Its socket wakes us only once most of its buffer was read, so what
    // the reader has not read yet is asked too.
    // Up to closing_cap after it closed, not beyond.
    if ((ch.conn.closing() || ch.conn.delivering()) && ch.closing_since &&
        now - *ch.closing_since < cfg_.closing_cap && host_reader_progressed(ch)) {
      ch.deadline = std::min(now + cfg_.timeout, *ch.closing_since + cfg_.closing_cap);
      continue;
    }
    ch.timed_out = true;
    ch.deadline = now + cfg_.timeout;
    ch.conn.reset();
    settle(key);
  }
  if (listener_) listener_->expire(now);
  pump_rx();
}

void VsockDevice::settle(Key key) {
  auto it = channels_.find(key);
  if (it == channels_.end()) return;
  Channel& ch = *it->second;
  if (ch.conn.take_shut_host_write()) ::shutdown(ch.fd.get(), SHUT_WR);
  if (ch.conn.state() == Connection::State::kClosed && !ch.conn.has_control() &&
      !ch.conn.delivering()) {
    destroy(key);  // closes the host socket: EOF for its reader
    return;
  }
  if (ch.conn.has_control() && !ch.in_ctrl_queue) {
    ctrl_queue_.push_back(key);
    ch.in_ctrl_queue = true;
  }
  bool guest_done = ch.conn.closing() || ch.conn.delivering();
  if (!ch.deadline && (ch.conn.state() == Connection::State::kConnecting || guest_done)) {
    ch.deadline = Clock::now() + cfg_.timeout;
    if (guest_done) host_reader_progressed(ch);  // where its reader starts
  }
  if (!ch.closing_since && guest_done) ch.closing_since = Clock::now();
  update_interest(key, ch);
}

void VsockDevice::update_interest(Key key, Channel& ch) {
  uint32_t want = 0;
  if (ch.conn.active() || ch.conn.delivering()) {
    if (ch.conn.wants_host_read() && rx_usable()) want |= EPOLLIN;
    if (!ch.to_host.empty()) want |= EPOLLOUT;
  }
  if (want == ch.events) return;
  // Unregistering (rather than registering for nothing) keeps a hung-up
  // socket from spinning the loop with EPOLLHUP while we wait for credit.
  Status s;
  if (want == 0)
    loop_.remove(ch.fd.get());
  else if (ch.events == 0)
    s = loop_.add(ch.fd.get(), want, [this, key](uint32_t ev) { on_channel_event(key, ev); });
  else
    s = loop_.modify(ch.fd.get(), want);
  if (!s.ok()) {
    std::fprintf(stderr, "vsock: %s\n", s.error().message.c_str());
    loop_.remove(ch.fd.get());
    ch.events = 0;
    ch.conn.reset();
    if (!ch.in_ctrl_queue) {
      ctrl_queue_.push_back(key);
      ch.in_ctrl_queue = true;
    }
    return;
  }
  ch.events = want;
}

void VsockDevice::destroy(Key key) {
  auto it = channels_.find(key);
  if (it == channels_.end()) return;
  if (it->second->events) loop_.remove(it->second->fd.get());
  channels_.erase(it);  // closes the host fd; a stale ctrl_queue_ entry is skipped
}

void VsockDevice::fail_queue(size_t idx, const Error& e) {
  if (broken_[idx]) return;
  broken_[idx] = true;
  std::fprintf(stderr, "vsock: %s queue unusable: %s\n", idx == kRxQueue ? "rx" : "tx",
               e.message.c_str());
}

}  // namespace runvm
