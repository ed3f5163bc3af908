// One vsock stream connection's protocol state, without any I/O: the device
// feeds it guest packets and host-side events, and asks it what to send to
// the guest next. Credit (virtio 1.2, 5.10.6.3): we advertise kBufAlloc bytes
// of buffering and fwd_cnt (bytes handed to the host socket); the guest
// advertises its own, limiting what we may put on the rx queue.
#pragma once

#include <cstdint>
#include <optional>

#include "shim/vsock/packet.h"

namespace runvm::vsock {

// Bytes of guest data we buffer per connection while the host socket is full.
inline constexpr uint32_t kBufAlloc = 256 * 1024;
// Advertise freed space once this much accumulated, so a sending guest never
// stalls on credit while it still has a useful window.
inline constexpr uint32_t kCreditUpdateThreshold = kBufAlloc / 4;

class Connection {
 public:
  enum class State {
    kConnecting,   // host-initiated: REQUEST owed/sent, waiting for RESPONSE
    kEstablished,  // data may flow (subject to shutdown flags)
    kClosed,       // RST sent or received: forget it
  };

  // What the device must do after a guest packet.
  enum class Action {
    kNone,
    kForward,      // write the packet's payload (hdr.len bytes) to the host
    kEstablished,  // host-initiated connection accepted by the guest
    kClose,        // guest reset the connection: send nothing (see delivering())
  };

  // The guest sent REQUEST: accepted, RESPONSE owed.
  static Connection accept_guest(uint64_t guest_cid, uint32_t local_port, const Header& req);
  // A host client wants guest port `peer_port`: REQUEST owed.
  static Connection connect_host(uint64_t guest_cid, uint32_t local_port, uint32_t peer_port);

  State state() const { return state_; }
  // Neither closed nor about to send RST: host I/O still matters.
  bool active() const { return state_ != State::kClosed && !(pending_ & kRst); }
  uint32_t local_port() const { return local_port_; }
  uint32_t peer_port() const { return peer_port_; }

  // A guest packet routed to this connection (cids/ports already matched).
  Action on_packet(const Header& h);
  // `n` bytes of guest data reached the host socket.
  void on_forwarded(uint32_t n);
  // The host socket reached EOF: the guest will get SHUTDOWN(SEND).
  void on_host_eof();
  // Host socket failure, protocol violation or timeout: owe RST, then forget.
  // Once closed, it forgets what was still owed to the host (delivering()).
  void reset();

  // Guest data received but not yet forwarded (bounded by kBufAlloc).
  uint32_t buffered() const { return rx_cnt_ - fwd_cnt_; }
  // Bytes the guest can take now.
  uint32_t peer_credit() const;
  // Whether the device should read the host socket now (for data to the guest).
  bool wants_host_read() const;
  // True once, when the host socket's write side should be shut down.
  bool take_shut_host_write();
  // The guest has closed both directions; waiting only for our flush.
  bool closing() const;
  // The guest reset the connection while data it sent before was not all
  // written to the host socket yet: that data is still delivered, and the
  // host reader sees EOF after it. Linux does the same for its own sockets
  // (a reset one's received data stays readable); and the guest's kernel
  // resets a connection it closed 8 s later unless we did (its
  // VSOCK_CLOSE_TIMEOUT), which a slow host reader's last data outlasts.
  bool delivering() const { return state_ == State::kClosed && guest_reset_ && buffered() > 0; }

  bool has_control() const { return pending_ != 0; }
  // Next control packet owed to the guest. RST pre-empts everything but the
  // SHUTDOWN of a graceful close.
  std::optional<Header> next_control();
  // Header for `len` payload bytes about to be sent to the guest.
  Header data_header(uint32_t len);

 private:
  enum Pending : uint8_t {
    kRequest = 1,
    kResponse = 2,
    kCreditUpdate = 4,
    kShutdown = 8,
    kRst = 16,
  };
  Connection(uint64_t guest_cid, uint32_t local_port, uint32_t peer_port, State s)
      : guest_cid_(guest_cid), local_port_(local_port), peer_port_(peer_port), state_(s) {}
  Header make(uint16_t op, uint32_t len = 0, uint32_t flags = 0);
  void check_finished();

  uint64_t guest_cid_;
  uint32_t local_port_, peer_port_;
  State state_;
  uint8_t pending_ = 0;
  uint32_t guest_shut_ = 0;  // VIRTIO_VSOCK_SHUTDOWN_* the guest declared
  bool host_eof_ = false;
  bool guest_reset_ = false;  // closed by the guest's RST (not ours)
  bool host_write_shut_ = false;
  // Guest -> host.
  uint32_t rx_cnt_ = 0;          // payload bytes received from the guest
  uint32_t fwd_cnt_ = 0;         // ... of which written to the host socket
  uint32_t advertised_fwd_ = 0;  // fwd_cnt in the last header we sent
  // Host -> guest.
  uint32_t tx_cnt_ = 0;  // payload bytes sent to the guest
  uint32_t peer_buf_alloc_ = 0;
  uint32_t peer_fwd_cnt_ = 0;
};

}  // namespace runvm::vsock
