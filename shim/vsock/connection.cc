#include "shim/vsock/connection.h"

namespace runvm::vsock {

namespace {
constexpr uint32_t kShutBoth = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
}

Connection Connection::accept_guest(uint64_t guest_cid, uint32_t local_port, const Header& req) {
  Connection c(guest_cid, local_port, req.src_port, State::kEstablished);
  c.peer_buf_alloc_ = req.buf_alloc;
  c.peer_fwd_cnt_ = req.fwd_cnt;
  c.pending_ = kResponse;
  return c;
}

Connection Connection::connect_host(uint64_t guest_cid, uint32_t local_port, uint32_t peer_port) {
  Connection c(guest_cid, local_port, peer_port, State::kConnecting);
  c.pending_ = kRequest;
  return c;
}

Connection::Action Connection::on_packet(const Header& h) {
  if (state_ == State::kClosed) return Action::kNone;
  if (h.op == VIRTIO_VSOCK_OP_RST) {
    state_ = State::kClosed;
    pending_ = 0;
    guest_reset_ = true;
    return Action::kClose;
  }
  if (pending_ & kRst) return Action::kNone;  // already resetting: nothing else matters
  // Every packet carries the sender's current credit.
  peer_buf_alloc_ = h.buf_alloc;
  peer_fwd_cnt_ = h.fwd_cnt;

  if (state_ == State::kConnecting) {
    if (h.op != VIRTIO_VSOCK_OP_RESPONSE) {
      reset();
      return Action::kNone;
    }
    state_ = State::kEstablished;
    return Action::kEstablished;
  }
  switch (h.op) {
    case VIRTIO_VSOCK_OP_RW:
      // Data after the guest promised to send no more, or beyond the credit
      // we gave, is a protocol violation.
      if ((guest_shut_ & VIRTIO_VSOCK_SHUTDOWN_SEND) || h.len > kBufAlloc - buffered()) {
        reset();
        return Action::kNone;
      }
      rx_cnt_ += h.len;
      return h.len ? Action::kForward : Action::kNone;
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
      return Action::kNone;
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
      pending_ |= kCreditUpdate;
      return Action::kNone;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
      guest_shut_ |= h.flags & kShutBoth;
      check_finished();
      return Action::kNone;
    default:  // REQUEST/RESPONSE on an established connection, unknown ops
      reset();
      return Action::kNone;
  }
}

void Connection::on_forwarded(uint32_t n) {
  fwd_cnt_ += n;
  if (state_ == State::kEstablished && !(pending_ & kRst) &&
      !(guest_shut_ & VIRTIO_VSOCK_SHUTDOWN_SEND) &&
      fwd_cnt_ - advertised_fwd_ >= kCreditUpdateThreshold)
    pending_ |= kCreditUpdate;
  check_finished();
}

void Connection::on_host_eof() {
  if (host_eof_) return;
  host_eof_ = true;
  if (!(guest_shut_ & VIRTIO_VSOCK_SHUTDOWN_RCV)) pending_ |= kShutdown;
  check_finished();
}

void Connection::reset() {
  rx_cnt_ = fwd_cnt_;  // what the host socket did not take is dropped
  if (state_ == State::kClosed) return;
  pending_ = kRst;
}

uint32_t Connection::peer_credit() const {
  uint32_t in_flight = tx_cnt_ - peer_fwd_cnt_;
  return in_flight >= peer_buf_alloc_ ? 0 : peer_buf_alloc_ - in_flight;
}

bool Connection::wants_host_read() const {
  return state_ == State::kEstablished && !host_eof_ &&
         !(guest_shut_ & VIRTIO_VSOCK_SHUTDOWN_RCV) &&
         !(pending_ & (kRequest | kResponse | kShutdown | kRst)) && peer_credit() > 0;
}

bool Connection::take_shut_host_write() {
  if (host_write_shut_ || state_ != State::kEstablished || (pending_ & kRst) ||
      !(guest_shut_ & VIRTIO_VSOCK_SHUTDOWN_SEND) || buffered() != 0)
    return false;
  host_write_shut_ = true;
  return true;
}

bool Connection::closing() const { return (guest_shut_ & kShutBoth) == kShutBoth; }

void Connection::check_finished() {
  // Both directions are over once the guest sends no more (and we flushed
  // it) and no more flows to the guest (it refuses, or the host ended).
  if (state_ == State::kEstablished && (guest_shut_ & VIRTIO_VSOCK_SHUTDOWN_SEND) &&
      buffered() == 0 && ((guest_shut_ & VIRTIO_VSOCK_SHUTDOWN_RCV) || host_eof_))
    pending_ = (pending_ & kShutdown) | kRst;  // graceful: an owed SHUTDOWN still goes first
}

std::optional<Header> Connection::next_control() {
  if (pending_ & kShutdown && pending_ & kRst) {
    pending_ &= ~kShutdown;
    return make(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_SEND);
  }
  if (pending_ & kRst) {
    pending_ = 0;
    state_ = State::kClosed;
    return make(VIRTIO_VSOCK_OP_RST);
  }
  for (auto [bit, op] : {std::pair{kRequest, VIRTIO_VSOCK_OP_REQUEST},
                         std::pair{kResponse, VIRTIO_VSOCK_OP_RESPONSE},
                         std::pair{kCreditUpdate, VIRTIO_VSOCK_OP_CREDIT_UPDATE},
                         std::pair{kShutdown, VIRTIO_VSOCK_OP_SHUTDOWN}}) {
    if (!(pending_ & bit)) continue;
    pending_ &= ~bit;
    return make(op, 0, op == VIRTIO_VSOCK_OP_SHUTDOWN ? VIRTIO_VSOCK_SHUTDOWN_SEND : 0);
  }
  return std::nullopt;
}

Header Connection::data_header(uint32_t len) {
  tx_cnt_ += len;
  pending_ &= ~kCreditUpdate;  // the data header carries our credit too
  return make(VIRTIO_VSOCK_OP_RW, len);
}

Header Connection::make(uint16_t op, uint32_t len, uint32_t flags) {
  Header h;
  h.src_cid = kHostCid;
  h.dst_cid = guest_cid_;
  h.src_port = local_port_;
  h.dst_port = peer_port_;
  h.len = len;
  h.type = VIRTIO_VSOCK_TYPE_STREAM;
  h.op = op;
  h.flags = flags;
  h.buf_alloc = kBufAlloc;
  h.fwd_cnt = fwd_cnt_;
  advertised_fwd_ = fwd_cnt_;
  return h;
}

}  // namespace runvm::vsock
