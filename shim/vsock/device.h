// virtio-vsock device backend (hybrid vsock, as Firecracker's): guest
// connections to the host CID on port P go to the Unix socket "<uds_path>_P"
// (or to an in-process port handler), host clients reach guest ports through
// "<uds_path>" with "CONNECT <port>\n". Queues: rx (0) and tx (1); the event
// queue stays in the front-end. Everything runs on the EventLoop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "shim/virtio/device.h"
#include "shim/vsock/byte_queue.h"
#include "shim/vsock/connection.h"
#include "shim/vsock/host_listener.h"
#include "spec/base/event_loop.h"

namespace runvm {

struct VsockConfig {
  uint64_t guest_cid = 3;
  std::string uds_path;  // empty: no host listener and no "<uds_path>_P" connects
  // How long a host-initiated connect waits for the guest, a closed
  // connection for its last data to drain, and a host client for its
  // CONNECT line, before we give up on it.
  std::chrono::milliseconds timeout{5000};
  // A closed connection whose host reader keeps taking its last data gets
  // another `timeout` each time, but is reset this long after the guest
  // closed it, however it progresses: a reader trickling bytes holds the
  // connection (and its buffered data) no longer than the sandbox holds a
  // pool unit's VM for its relay (5 min).
  std::chrono::milliseconds closing_cap{300000};
};

class VsockDevice : public VirtioDevice {
 public:
  static constexpr size_t kRxQueue = 0, kTxQueue = 1;
  static constexpr size_t kMaxConnections = 1024;
  // RSTs for unknown connections waiting for rx buffers; tx pauses beyond this.
  static constexpr size_t kMaxOrphanRsts = 64;
  // Packets read from one host socket per event, for fairness.
  static constexpr int kMaxPacketsPerEvent = 16;

  // Starts listening on cfg.uds_path if non-empty (unlinked on destruction).
  static Result<std::unique_ptr<VsockDevice>> create(EventLoop& loop, VsockConfig cfg);
  ~VsockDevice() override;
  VsockDevice(const VsockDevice&) = delete;
  VsockDevice& operator=(const VsockDevice&) = delete;

  // Guest connections to host port `port` are served by the fd `open` returns
  // (made nonblocking) instead of "<uds_path>_<port>".
  void set_port_handler(uint32_t port, std::function<Result<UniqueFd>()> open);

  uint64_t features() const override;
  size_t num_queues() const override { return 2; }
  std::vector<uint8_t> config() const override;
  void set_features(uint64_t acked) override;
  void queue_started(size_t idx, VirtQueue* q) override;
  void queue_stopped(size_t idx) override;
  void queue_kicked(size_t idx) override;

  size_t connection_count() const { return channels_.size(); }
  // Bytes of guest data written to host sockets so far (any thread may
  // read it): whether a host reader is making progress.
  uint64_t bytes_to_host() const { return to_host_bytes_.load(std::memory_order_relaxed); }
  // Connections whose data for the host is not all written yet, that the
  // guest closed and whose host reader still reads, or whose host reader
  // took data since the timer's tick before (as of its last tick, at most a
  // second old; any thread may read it).
  size_t flushing_to_host() const { return flushing_.load(std::memory_order_relaxed); }
  // Ticks of the timer at which some host reader had taken data since the
  // tick before (it only grows): progress the bytes written do not show.
  uint64_t host_reads() const { return host_reads_.load(std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;
  using Key = uint64_t;  // local_port << 32 | peer_port
  struct Channel {
    vsock::Connection conn;
    UniqueFd fd;
    vsock::ByteQueue to_host;  // guest data the host socket has not taken yet
    uint32_t events = 0;       // epoll interest registered (0: not registered)
    bool in_ctrl_queue = false;
    bool timed_out = false;  // reset by the timer; destroyed if that RST cannot go out either
    std::optional<Clock::time_point> deadline;
    std::optional<Clock::time_point> closing_since;  // when it was first seen closing
    // A closing connection's host reader at its last deadline: bytes written
    // to its socket and (SIOCOUTQ) not read yet. Either changing is progress.
    uint64_t written = 0, written_seen = 0;
    int unread_seen = -1;
    int unread_at_tick = -1;  // the same, at the timer's last tick
  };
  // Whether ch's host reader took data since the last look (and notes it).
  bool host_reader_progressed(Channel& ch);
  static Key key_of(uint32_t local, uint32_t peer) { return (Key{local} << 32) | peer; }

  VsockDevice(EventLoop& loop, VsockConfig cfg) : loop_(loop), cfg_(std::move(cfg)) {}
  Status start_timer();
  void on_timer();

  // Guest -> host (device_tx.cc).
  void run_tx();
  void drain_tx();
  void handle_tx_packet(const DescChain& chain);
  void open_guest_connection(const vsock::Header& req);
  Result<UniqueFd> open_host_port(uint32_t port);
  void forward_to_host(Channel& ch, ChainReader& r, uint32_t len);
  void flush_to_host(Channel& ch);
  void orphan_rst(const vsock::Header& to);

  // Host -> guest (device_rx.cc).
  void on_host_client(UniqueFd client, uint32_t guest_port);
  void on_channel_event(Key key, uint32_t events);
  void read_to_guest(Channel& ch);
  void pump_rx();
  bool pop_rx();
  bool rx_usable() const { return rxq_ && !broken_[kRxQueue] && !rx_stalled_; }

  // Bookkeeping after any change to a channel; may destroy it.
  void settle(Key key);
  void update_interest(Key key, Channel& ch);
  void destroy(Key key);
  void fail_queue(size_t idx, const Error& e);

  EventLoop& loop_;
  VsockConfig cfg_;
  std::unique_ptr<vsock::HostListener> listener_;
  std::unique_ptr<Timer> timer_;  // periodic: checks the channels' deadlines
  std::unordered_map<uint32_t, std::function<Result<UniqueFd>()>> port_handlers_;
  std::map<Key, std::unique_ptr<Channel>> channels_;
  std::deque<Key> ctrl_queue_;  // channels owing control packets, in order
  std::deque<vsock::Header> orphan_rsts_;
  uint32_t next_local_port_ = 1u << 30;

  VirtQueue* rxq_ = nullptr;
  VirtQueue* txq_ = nullptr;
  bool broken_[2] = {false, false};
  bool tx_started_once_ = false;
  bool rx_stalled_ = false;    // no rx buffers: host reads wait for an rx kick
  bool tx_throttled_ = false;  // too many RSTs owed: tx waits for an rx kick
  DescChain rx_chain_, tx_chain_;
  std::atomic<uint64_t> to_host_bytes_{0};
  std::atomic<size_t> flushing_{0};
  std::atomic<uint64_t> host_reads_{0};
};

}  // namespace runvm
