// Guest -> host half of VsockDevice: the tx queue.
#include <cerrno>

#include "shim/vsock/connect_line.h"
#include "shim/vsock/device.h"
#include "shim/vsock/unix_socket.h"
#include "spec/base/state_layout.h"

namespace runvm {

using vsock::Connection;
using vsock::Header;

void VsockDevice::run_tx() {
  for (;;) {
    drain_tx();
    pump_rx();  // replies the batch produced, one notification
    // Throttled on owed RSTs: go on only if the rx queue took them.
    if (!tx_throttled_ || orphan_rsts_.size() >= kMaxOrphanRsts) return;
  }
}

void VsockDevice::drain_tx() {
  tx_throttled_ = false;
  if (!txq_ || broken_[kTxQueue]) return;
  for (;;) {
    for (;;) {
      if (orphan_rsts_.size() >= kMaxOrphanRsts) {
        tx_throttled_ = true;  // resumed by an rx kick, without re-enabling tx kicks
        txq_->notify();
        return;
      }
      auto popped = txq_->pop(tx_chain_);
      if (!popped.ok()) return fail_queue(kTxQueue, popped.error());
      if (!*popped) break;
      handle_tx_packet(tx_chain_);
      if (auto s = txq_->push_used(tx_chain_.head, 0); !s.ok())
        return fail_queue(kTxQueue, s.error());
    }
    if (!txq_->enable_kicks()) break;
  }
  txq_->notify();
}

void VsockDevice::handle_tx_packet(const DescChain& chain) {
  ChainReader r(chain.readable);
  auto parsed = vsock::read_header(r);
  if (!parsed.ok()) return;  // malformed: dropped, as no valid driver sends it
  const Header& h = *parsed;
  if (h.src_cid != cfg_.guest_cid || h.dst_cid != vsock::kHostCid) return;  // spoofed/misrouted
  if (h.type != VIRTIO_VSOCK_TYPE_STREAM) return orphan_rst(h);

  Key key = key_of(h.dst_port, h.src_port);
  auto it = channels_.find(key);
  if (it == channels_.end()) {
    if (h.op == VIRTIO_VSOCK_OP_REQUEST) return open_guest_connection(h);
    return orphan_rst(h);
  }
  Channel& ch = *it->second;
  // Reset by the guest, still delivering its last data to the host: a new
  // connection of the same ports is refused meanwhile.
  if (ch.conn.state() == Connection::State::kClosed) return orphan_rst(h);
  switch (ch.conn.on_packet(h)) {
    case Connection::Action::kClose:
      break;  // gone once the host took what the guest sent before (settle)
    case Connection::Action::kForward:
      forward_to_host(ch, r, h.len);
      break;
    case Connection::Action::kEstablished: {
      // A fresh socket's buffer always takes this short line whole.
      std::string ok = vsock::format_ok_line(ch.conn.local_port());
      if (vsock::write_nosignal(ch.fd.get(), ok.data(), ok.size()) !=
          static_cast<ssize_t>(ok.size()))
        ch.conn.reset();
      break;
    }
    case Connection::Action::kNone:
      break;
  }
  settle(key);
}

void VsockDevice::orphan_rst(const Header& to) {
  if (to.op == VIRTIO_VSOCK_OP_RST) return;  // never answer a reset
  orphan_rsts_.push_back(vsock::rst_for(to));
}

void VsockDevice::open_guest_connection(const Header& req) {
  if (channels_.size() >= kMaxConnections) return orphan_rst(req);
  auto fd = open_host_port(req.dst_port);
  if (!fd.ok()) return orphan_rst(req);
  Key key = key_of(req.dst_port, req.src_port);
  channels_.emplace(
      key, std::make_unique<Channel>(Channel{
               Connection::accept_guest(cfg_.guest_cid, req.dst_port, req), std::move(*fd)}));
  settle(key);
}

Result<UniqueFd> VsockDevice::open_host_port(uint32_t port) {
  if (auto it = port_handlers_.find(port); it != port_handlers_.end()) {
    UniqueFd fd = RUNVM_TRY(it->second());
    RUNVM_CHECK(vsock::set_nonblocking(fd.get()));
    return fd;
  }
  if (cfg_.uds_path.empty()) return make_error("no handler for vsock port", ECONNREFUSED);
  return connect_unix(layout::vsock_port_socket(cfg_.uds_path, port), /*nonblocking=*/true);
}

void VsockDevice::forward_to_host(Channel& ch, ChainReader& r, uint32_t len) {
  uint32_t left = len, written = 0;
  bool failed = false;
  while (left > 0) {
    auto piece = r.next_piece(left);
    if (piece.empty()) break;  // cannot happen: read_header checked len
    left -= static_cast<uint32_t>(piece.size());
    size_t off = 0;
    // Write through while nothing is queued; once queued, keep the order.
    while (!failed && ch.to_host.empty() && off < piece.size()) {
      ssize_t n = vsock::write_nosignal(ch.fd.get(), piece.data() + off, piece.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN) failed = true;
      if (n <= 0) break;
      off += static_cast<size_t>(n);
      written += static_cast<uint32_t>(n);
    }
    if (!failed && off < piece.size()) ch.to_host.append(piece.subspan(off));
  }
  to_host_bytes_.fetch_add(written, std::memory_order_relaxed);
  ch.written += written;
  if (failed) return ch.conn.reset();
  if (written) ch.conn.on_forwarded(written);
}

void VsockDevice::flush_to_host(Channel& ch) {
  uint32_t written = 0;
  while (!ch.to_host.empty()) {
    auto data = ch.to_host.front();
    ssize_t n = vsock::write_nosignal(ch.fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return ch.conn.reset();
    ch.to_host.consume(static_cast<size_t>(n));
    written += static_cast<uint32_t>(n);
  }
  to_host_bytes_.fetch_add(written, std::memory_order_relaxed);
  ch.written += written;
  if (written) ch.conn.on_forwarded(written);
}

}  // namespace runvm
