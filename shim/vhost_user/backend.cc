#include "shim/vhost_user/backend.h"

#include <fcntl.h>
#include <linux/virtio_config.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace runvm::vhost_user {

namespace {

constexpr uint64_t bit(int n) { return 1ull << n; }

// Transport features we never offer whatever the device says: VirtQueue
// rejects indirect descriptors and knows only split rings; there is no
// IOTLB and no dirty logging.
constexpr uint64_t kUnsupportedFeatures = bit(vring::kIndirectDescFeature) |
                                          bit(VIRTIO_F_RING_PACKED) |
                                          bit(VIRTIO_F_ACCESS_PLATFORM) | bit(26 /*LOG_ALL*/);

template <class T>
Result<T*> payload_as(Message& m) {
  if (auto* p = std::get_if<T>(&m.payload)) return p;
  // parse_message guarantees the type for every request we dispatch.
  return make_error("vhost-user request " + std::to_string(m.header.request) + ": bad payload",
                    EINVAL);
}

}  // namespace

VhostUserBackend::VhostUserBackend(VirtioDevice& device, EventLoop& loop)
    : device_(device), loop_(loop), vrings_(device.num_queues()) {}

VhostUserBackend::~VhostUserBackend() { disconnect(); }

uint64_t VhostUserBackend::offered_features() const {
  return (device_.features() | bit(vring::kEventIdxFeature) | kFeatureProtocolFeatures) &
         ~kUnsupportedFeatures;
}

Result<std::optional<Reply>> VhostUserBackend::handle(Message&& msg) {
  const Header h = msg.header;
  auto reply = RUNVM_TRY(dispatch(msg).context("vhost-user request " + std::to_string(h.request)));
  // need_reply asks for an ack of requests that have no reply of their own.
  if (!reply && h.need_reply()) reply = reply_u64(h.request, 0);
  return reply;
}

Result<std::optional<Reply>> VhostUserBackend::dispatch(Message& m) {
  const uint32_t req = m.header.request;
  std::optional<Reply> none;
  switch (req) {
    case kGetFeatures:
      return std::optional(reply_u64(req, offered_features()));
    case kSetFeatures:
      RUNVM_CHECK(set_features(*RUNVM_TRY(payload_as<uint64_t>(m))));
      return none;
    case kGetProtocolFeatures:
      return std::optional(reply_u64(req, kProtocolFeatures));
    case kSetProtocolFeatures:
      RUNVM_CHECK(set_protocol_features(*RUNVM_TRY(payload_as<uint64_t>(m))));
      return none;
    case kSetOwner:
      return none;  // one front-end per connection: nothing to record
    case kResetOwner:
    case kResetDevice:
      reset_device();
      return none;
    case kGetQueueNum:
      return std::optional(reply_u64(req, vrings_.size()));
    case kSetMemTable:
      RUNVM_CHECK(set_mem_table(*RUNVM_TRY(payload_as<MemTable>(m))));
      return none;
    case kSetVringNum:
      RUNVM_CHECK(set_vring_num(*RUNVM_TRY(payload_as<VringState>(m))));
      return none;
    case kSetVringAddr:
      RUNVM_CHECK(set_vring_addr(*RUNVM_TRY(payload_as<VringAddr>(m))));
      return none;
    case kSetVringBase:
      RUNVM_CHECK(set_vring_base(*RUNVM_TRY(payload_as<VringState>(m))));
      return none;
    case kGetVringBase: {
      auto s = RUNVM_TRY(get_vring_base(*RUNVM_TRY(payload_as<VringState>(m))));
      return std::optional(reply_vring_state(req, s));
    }
    case kSetVringKick:
      RUNVM_CHECK(set_vring_kick(*RUNVM_TRY(payload_as<VringFd>(m))));
      return none;
    case kSetVringCall:
      RUNVM_CHECK(set_vring_call(*RUNVM_TRY(payload_as<VringFd>(m))));
      return none;
    case kSetVringErr:
      RUNVM_CHECK(set_vring_err(*RUNVM_TRY(payload_as<VringFd>(m))));
      return none;
    case kSetVringEnable:
      RUNVM_CHECK(set_vring_enable(*RUNVM_TRY(payload_as<VringState>(m))));
      return none;
    case kGetConfig: {
      auto cfg = RUNVM_TRY(get_config(*RUNVM_TRY(payload_as<ConfigSpace>(m))));
      return std::optional(reply_config(req, cfg));
    }
    case kSetConfig:
      return make_error("device configuration is read-only", EPERM);
    default:
      // Everything else is gated by a feature we do not offer. Failing
      // (rather than closing the connection, which QEMU treats as fatal)
      // lets a front-end that asked for an ack see the refusal.
      return make_error("unsupported request", ENOSYS);
  }
}

Result<VhostUserBackend::Vring*> VhostUserBackend::vring(uint32_t index) {
  if (index >= vrings_.size())
    return make_error("vring index " + std::to_string(index) + " out of range (device has " +
                          std::to_string(vrings_.size()) + ")",
                      EINVAL);
  return &vrings_[index];
}

Status VhostUserBackend::set_features(uint64_t acked) {
  if (acked & ~offered_features()) return make_error("acked features were not offered", EINVAL);
  for (size_t i = 0; i < vrings_.size(); ++i)
    if (vrings_[i].queue) return make_error("SET_FEATURES while queues run", EBUSY);
  acked_features_ = acked;
  device_.set_features(acked & ~kFeatureProtocolFeatures);
  return {};
}

Status VhostUserBackend::set_protocol_features(uint64_t acked) {
  if (acked & ~kProtocolFeatures)
    return make_error("acked protocol features were not offered", EINVAL);
  protocol_features_ = acked;
  return {};
}

namespace {
// A region past the end of its file would SIGBUS us on first touch.
Status check_region_fd(const MappedGuestMemory::FdRegion& r) {
  struct stat st;
  if (fstat(r.fd.get(), &st) < 0) return errno_error("memory region fd");
  if (!S_ISREG(st.st_mode)) return make_error("memory region fd is not a file", EINVAL);
  uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (r.mmap_offset > file_size || r.size > file_size - r.mmap_offset)
    return make_error("memory region exceeds its file", EINVAL);
  return {};
}
}  // namespace

Status VhostUserBackend::set_mem_table(MemTable& table) {
  for (const auto& r : table.regions) RUNVM_CHECK(check_region_fd(r));
  // Map first: on failure the old table stays in use.
  auto mapped = RUNVM_TRY(MappedGuestMemory::map(std::move(table.regions)));
  stop_all();
  memory_ = std::make_unique<MappedGuestMemory>(std::move(mapped));
  // Rings move to the new memory. Rings not running yet start when ready too.
  Status first_error;
  for (size_t i = 0; i < vrings_.size(); ++i) {
    auto s = start_if_ready(i);
    if (!s.ok() && first_error.ok()) first_error = std::move(s);
  }
  return first_error;
}

Status VhostUserBackend::set_vring_num(const VringState& s) {
  Vring* v = RUNVM_TRY(vring(s.index));
  if (v->queue) return make_error("SET_VRING_NUM on a running ring", EBUSY);
  if (s.num == 0 || s.num > VirtQueue::kMaxSize || (s.num & (s.num - 1)))
    return make_error("ring size " + std::to_string(s.num) + " is not a power of two <= 32768",
                      EINVAL);
  v->num = static_cast<uint16_t>(s.num);
  return start_if_ready(s.index);
}

Status VhostUserBackend::set_vring_addr(const VringAddr& a) {
  Vring* v = RUNVM_TRY(vring(a.index));
  // Addresses are translated when the ring starts, against the memory of the day.
  stop(a.index);
  v->addr = a;
  return start_if_ready(a.index);
}

Status VhostUserBackend::set_vring_base(const VringState& s) {
  Vring* v = RUNVM_TRY(vring(s.index));
  if (v->queue) return make_error("SET_VRING_BASE on a running ring", EBUSY);
  if (s.num > UINT16_MAX) return make_error("ring base out of range for a split ring", EINVAL);
  v->base = static_cast<uint16_t>(s.num);
  return {};
}

Result<VringState> VhostUserBackend::get_vring_base(const VringState& s) {
  Vring* v = RUNVM_TRY(vring(s.index));
  stop(s.index);
  // As libvhost-user: the ring now needs fresh notifiers to run again.
  v->kick.reset();
  v->call.reset();
  return VringState{s.index, v->base};
}

Status VhostUserBackend::set_vring_kick(VringFd& f) {
  Vring* v = RUNVM_TRY(vring(f.index));
  if (!f.fd) return make_error("polling rings (no kick fd) are not supported", ENOTSUP);
  stop(f.index);  // unregisters the old kick fd before it closes
  // Kicks are drained by us alone; never block the loop on them.
  int fl = fcntl(f.fd.get(), F_GETFL);
  if (fl < 0 || fcntl(f.fd.get(), F_SETFL, fl | O_NONBLOCK) < 0) return errno_error("kick fd");
  v->kick = std::move(f.fd);
  return start_if_ready(f.index);
}

Status VhostUserBackend::set_vring_call(VringFd& f) {
  Vring* v = RUNVM_TRY(vring(f.index));
  // QEMU swaps call fds on live rings (interrupt masking): no restart.
  v->call = std::move(f.fd);
  if (v->queue) v->queue->set_call_fd(v->call.get());
  return {};
}

Status VhostUserBackend::set_vring_err(VringFd& f) {
  Vring* v = RUNVM_TRY(vring(f.index));
  v->err = std::move(f.fd);  // kept so the front-end's fd stays valid; we never signal it
  return {};
}

Status VhostUserBackend::set_vring_enable(const VringState& s) {
  Vring* v = RUNVM_TRY(vring(s.index));
  if (s.num > 1) return make_error("SET_VRING_ENABLE value must be 0 or 1", EINVAL);
  v->enabled = s.num == 1;
  if (!v->enabled) {
    stop(s.index);
    return {};
  }
  return start_if_ready(s.index);
}

Result<ConfigSpace> VhostUserBackend::get_config(const ConfigSpace& req) const {
  auto cfg = device_.config();
  uint64_t end = uint64_t{req.offset} + req.data.size();  // no u32 wrap-around
  if (end > cfg.size())
    return make_error("config read [" + std::to_string(req.offset) + ", " + std::to_string(end) +
                          ") beyond " + std::to_string(cfg.size()) + " bytes",
                      EINVAL);
  ConfigSpace out{req.offset, req.flags, {}};
  out.data.assign(cfg.begin() + req.offset, cfg.begin() + static_cast<ptrdiff_t>(end));
  return out;
}

void VhostUserBackend::reset_device() {
  stop_all();
  for (auto& v : vrings_) v = Vring{};
  memory_.reset();
  acked_features_ = 0;
}

void VhostUserBackend::disconnect() {
  reset_device();
  protocol_features_ = 0;
}

bool VhostUserBackend::ring_enabled(const Vring& v) const {
  return v.enabled || !(acked_features_ & kFeatureProtocolFeatures);
}

Status VhostUserBackend::start_if_ready(size_t idx) {
  Vring& v = vrings_[idx];
  if (v.queue || !memory_ || !v.num || !v.addr || !v.kick || !ring_enabled(v)) return {};
  const GuestMemory& mem = memory_->memory();
  VirtQueue::Config cfg;
  cfg.size = v.num;
  cfg.desc_gpa =
      RUNVM_TRY(mem.uva_to_gpa(v.addr->desc_uva, 16ull * v.num).context("descriptor table"));
  cfg.avail_gpa =
      RUNVM_TRY(mem.uva_to_gpa(v.addr->avail_uva, 6 + 2ull * v.num).context("avail ring"));
  cfg.used_gpa = RUNVM_TRY(mem.uva_to_gpa(v.addr->used_uva, 6 + 8ull * v.num).context("used ring"));
  cfg.next_avail = v.base;
  cfg.event_idx = acked_features_ & bit(vring::kEventIdxFeature);
  auto q = RUNVM_TRY(VirtQueue::create(mem, cfg).context("vring " + std::to_string(idx)));
  RUNVM_CHECK(loop_.add(v.kick.get(), EPOLLIN, [this, idx](uint32_t) { on_kick(idx); }));
  v.queue.emplace(std::move(q));
  v.queue->set_call_fd(v.call.get());
  device_.queue_started(idx, &*v.queue);
  return {};
}

void VhostUserBackend::stop(size_t idx) {
  Vring& v = vrings_[idx];
  if (!v.queue) return;
  device_.queue_stopped(idx);
  loop_.remove(v.kick.get());
  v.base = v.queue->next_avail();
  v.queue.reset();
}

void VhostUserBackend::stop_all() {
  for (size_t i = 0; i < vrings_.size(); ++i) stop(i);
}

void VhostUserBackend::on_kick(size_t idx) {
  Vring& v = vrings_[idx];
  uint64_t count;
  if (::read(v.kick.get(), &count, sizeof count) != sizeof count) return;  // spurious wakeup
  if (v.queue) device_.queue_kicked(idx);
}

}  // namespace runvm::vhost_user
