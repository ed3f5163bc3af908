// Host -> guest half of VsockDevice: host sockets, the rx queue, and the
// control packets owed to the guest.
#include <algorithm>
#include <cerrno>

#include "shim/vsock/device.h"

namespace runvm {

using vsock::Connection;
using vsock::Header;
using vsock::kHdrSize;

void VsockDevice::on_host_client(UniqueFd client, uint32_t guest_port) {
  if (channels_.size() >= kMaxConnections) return;  // closes the client
  uint32_t local;
  for (;;) {  // an ephemeral port no connection uses (at most kMaxConnections tries)
    local = next_local_port_++;
    if (next_local_port_ == 0) next_local_port_ = 1u << 30;
    auto it = channels_.lower_bound(key_of(local, 0));
    if (it == channels_.end() || (it->first >> 32) != local) break;
  }
  Key key = key_of(local, guest_port);
  channels_.emplace(
      key, std::make_unique<Channel>(Channel{
               Connection::connect_host(cfg_.guest_cid, local, guest_port), std::move(client)}));
  settle(key);
  pump_rx();
}

void VsockDevice::on_channel_event(Key key, uint32_t events) {
  auto it = channels_.find(key);
  if (it == channels_.end()) return;
  Channel& ch = *it->second;
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && !ch.to_host.empty()) flush_to_host(ch);
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && ch.conn.wants_host_read() && rx_usable())
    read_to_guest(ch);
  else if (events & EPOLLERR)
    ch.conn.reset();
  settle(key);
  pump_rx();
}

void VsockDevice::read_to_guest(Channel& ch) {
  for (int i = 0; i < kMaxPacketsPerEvent && ch.conn.wants_host_read(); ++i) {
    if (!pop_rx()) return;
    DescChain& c = rx_chain_;
    if (c.writable_bytes() <= kHdrSize) {  // useless buffer: hand it back empty
      if (auto s = rxq_->push_used(c.head, 0); !s.ok()) return fail_queue(kRxQueue, s.error());
      continue;
    }
    ChainWriter w(c.writable);
    // Room for the header, written last once the payload length is known
    // (writable_bytes() > kHdrSize guarantees the pieces exist).
    for (size_t skipped = 0, n = 1; skipped < kHdrSize && n > 0; skipped += n)
      n = w.next_piece(kHdrSize - skipped).size();
    size_t max = std::min<size_t>({ch.conn.peer_credit(), vsock::kMaxPayload, w.remaining()});
    size_t total = 0;
    bool eof = false, failed = false, drained = false;
    // Straight from the socket into guest memory, no bounce buffer.
    while (total < max) {
      auto piece = w.next_piece(max - total);
      ssize_t n = ::read(ch.fd.get(), piece.data(), piece.size());
      if (n <= 0) {
        w.unwrite(piece.size());
        if (n < 0 && errno == EINTR) continue;
        eof = n == 0;
        drained = n < 0 && errno == EAGAIN;
        failed = !eof && !drained;
        break;
      }
      total += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < piece.size()) {
        w.unwrite(piece.size() - static_cast<size_t>(n));
        drained = true;
        break;
      }
    }
    if (total > 0) {
      auto hdr = vsock::encode(ch.conn.data_header(static_cast<uint32_t>(total)));
      ChainWriter(c.writable).write(hdr.data(), hdr.size());
      if (auto s = rxq_->push_used(c.head, static_cast<uint32_t>(kHdrSize + total)); !s.ok())
        return fail_queue(kRxQueue, s.error());
    } else {
      rxq_->undo_pop();
    }
    if (eof) ch.conn.on_host_eof();
    if (failed) ch.conn.reset();
    if (eof || failed || drained) return;
  }
}

bool VsockDevice::pop_rx() {
  if (!rx_usable()) return false;
  for (;;) {
    auto popped = rxq_->pop(rx_chain_);
    if (!popped.ok()) {
      fail_queue(kRxQueue, popped.error());
      return false;
    }
    if (*popped) return true;
    if (!rxq_->enable_kicks()) {
      rx_stalled_ = true;
      return false;
    }
  }
}

void VsockDevice::pump_rx() {
  while (!orphan_rsts_.empty() || !ctrl_queue_.empty()) {
    if (!pop_rx()) break;
    DescChain& c = rx_chain_;
    if (c.writable_bytes() < kHdrSize) {
      if (auto s = rxq_->push_used(c.head, 0); !s.ok()) fail_queue(kRxQueue, s.error());
      continue;
    }
    std::optional<Header> hdr;
    std::optional<Key> settled;
    if (!orphan_rsts_.empty()) {
      hdr = orphan_rsts_.front();
      orphan_rsts_.pop_front();
    } else {
      Key key = ctrl_queue_.front();
      auto it = channels_.find(key);
      Channel* ch = it == channels_.end() ? nullptr : it->second.get();
      if (ch) hdr = ch->conn.next_control();
      if (!ch || !ch->conn.has_control()) {
        ctrl_queue_.pop_front();
        if (ch) ch->in_ctrl_queue = false;
      }
      if (!hdr) {
        rxq_->undo_pop();
        continue;
      }
      settled = key;
    }
    auto bytes = vsock::encode(*hdr);
    ChainWriter(c.writable).write(bytes.data(), bytes.size());
    if (auto s = rxq_->push_used(c.head, kHdrSize); !s.ok()) fail_queue(kRxQueue, s.error());
    if (settled) settle(*settled);  // e.g. RESPONSE out: data may flow; RST out: forget
  }
  if (rxq_ && !broken_[kRxQueue]) rxq_->notify();
}

}  // namespace runvm
