// The vhost-user back-end state machine: negotiates features with the
// front-end, maps its memory, and starts/stops the device's virtqueues.
// Transport-free: the server feeds it parsed messages and sends its replies.
// Runs on the EventLoop thread (kick fds are registered there).
//
// Ring lifecycle: a ring starts once memory, SET_VRING_NUM/ADDR and a kick
// fd are present and it is enabled (rings are enabled from the start unless
// VHOST_USER_F_PROTOCOL_FEATURES was acked, when SET_VRING_ENABLE rules).
// It stops on GET_VRING_BASE (which also drops its kick and call fds, so a
// restart needs a new SET_VRING_KICK), SET_VRING_ENABLE 0, and disconnect;
// it restarts on a new memory table or ring address. The device always hears
// queue_stopped before the queue or the memory under it goes away.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "shim/vhost_user/message.h"
#include "shim/virtio/device.h"
#include "spec/base/event_loop.h"

namespace runvm::vhost_user {

class VhostUserBackend {
 public:
  // Protocol features we offer: REPLY_ACK, CONFIG.
  static constexpr uint64_t kProtocolFeatures = kProtocolReplyAck | kProtocolConfig;

  VhostUserBackend(VirtioDevice& device, EventLoop& loop);
  ~VhostUserBackend();
  VhostUserBackend(const VhostUserBackend&) = delete;
  VhostUserBackend& operator=(const VhostUserBackend&) = delete;

  // Applies one request. Ok: the reply to send, if any (including a success
  // ack when need_reply is set). Error: the request failed and changed
  // nothing it could not finish; send failure_reply(header, error).
  Result<std::optional<Reply>> handle(Message&& msg);

  // Front-end gone: stops every queue, drops memory, fds and negotiated
  // state, ready for the next front-end.
  void disconnect();

  // Feature bits offered in GET_FEATURES.
  uint64_t offered_features() const;
  bool queue_running(size_t idx) const { return idx < vrings_.size() && vrings_[idx].queue; }

 private:
  struct Vring {
    uint16_t num = 0;
    std::optional<VringAddr> addr;
    uint16_t base = 0;  // next avail index while stopped
    bool enabled = false;
    UniqueFd kick, call, err;
    std::optional<VirtQueue> queue;  // engaged while started; address stable
  };

  Result<std::optional<Reply>> dispatch(Message& msg);
  Result<Vring*> vring(uint32_t index);
  Status set_features(uint64_t acked);
  Status set_protocol_features(uint64_t acked);
  Status set_mem_table(MemTable& table);
  Status set_vring_num(const VringState& s);
  Status set_vring_addr(const VringAddr& a);
  Status set_vring_base(const VringState& s);
  Result<VringState> get_vring_base(const VringState& s);
  Status set_vring_kick(VringFd& f);
  Status set_vring_call(VringFd& f);
  Status set_vring_err(VringFd& f);
  Status set_vring_enable(const VringState& s);
  Result<ConfigSpace> get_config(const ConfigSpace& req) const;
  void reset_device();

  bool ring_enabled(const Vring& v) const;
  // Starts ring idx if it is ready and not running.
  Status start_if_ready(size_t idx);
  // Stops ring idx if running, remembering where it got to.
  void stop(size_t idx);
  void stop_all();
  void on_kick(size_t idx);

  VirtioDevice& device_;
  EventLoop& loop_;
  uint64_t acked_features_ = 0;
  uint64_t protocol_features_ = 0;
  std::unique_ptr<MappedGuestMemory> memory_;  // heap: queues point into it
  std::vector<Vring> vrings_;                  // sized once: queues' addresses stay put
};

}  // namespace runvm::vhost_user
