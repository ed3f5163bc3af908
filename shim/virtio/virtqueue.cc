#include "shim/virtio/virtqueue.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>

namespace runvm {

namespace {

template <class T>
T load_acquire(const T* p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
template <class T>
void store_release(T* p, T v) {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

bool is_pow2(uint32_t v) { return v && !(v & (v - 1)); }

}  // namespace

uint64_t DescChain::readable_bytes() const {
  uint64_t n = 0;
  for (auto& b : readable) n += b.size();
  return n;
}

uint64_t DescChain::writable_bytes() const {
  uint64_t n = 0;
  for (auto& b : writable) n += b.size();
  return n;
}

size_t ChainReader::read(void* out, size_t n) {
  auto* dst = static_cast<uint8_t*>(out);
  size_t done = 0;
  while (done < n) {
    auto piece = next_piece(n - done);
    if (piece.empty()) break;
    std::memcpy(dst + done, piece.data(), piece.size());
    done += piece.size();
  }
  return done;
}

size_t ChainReader::skip(size_t n) {
  size_t done = 0;
  while (done < n) {
    auto piece = next_piece(n - done);
    if (piece.empty()) break;
    done += piece.size();
  }
  return done;
}

size_t ChainReader::remaining() const {
  size_t n = 0;
  for (size_t i = idx_; i < bufs_.size(); ++i) n += bufs_[i].size();
  return n - (idx_ < bufs_.size() ? off_ : 0);
}

std::span<const uint8_t> ChainReader::next_piece(size_t max) {
  while (idx_ < bufs_.size() && off_ == bufs_[idx_].size()) {
    ++idx_;
    off_ = 0;
  }
  if (idx_ >= bufs_.size() || max == 0) return {};
  size_t n = std::min(max, bufs_[idx_].size() - off_);
  std::span<const uint8_t> s(bufs_[idx_].data() + off_, n);
  off_ += n;
  return s;
}

size_t ChainWriter::write(const void* in, size_t n) {
  auto* src = static_cast<const uint8_t*>(in);
  size_t done = 0;
  while (done < n) {
    auto piece = next_piece(n - done);
    if (piece.empty()) break;
    std::memcpy(piece.data(), src + done, piece.size());
    done += piece.size();
  }
  return done;
}

size_t ChainWriter::remaining() const {
  size_t n = 0;
  for (size_t i = idx_; i < bufs_.size(); ++i) n += bufs_[i].size();
  return n - (idx_ < bufs_.size() ? off_ : 0);
}

std::span<uint8_t> ChainWriter::next_piece(size_t max) {
  while (idx_ < bufs_.size() && off_ == bufs_[idx_].size()) {
    ++idx_;
    off_ = 0;
  }
  if (idx_ >= bufs_.size() || max == 0) return {};
  size_t n = std::min(max, bufs_[idx_].size() - off_);
  std::span<uint8_t> s(bufs_[idx_].data() + off_, n);
  off_ += n;
  written_ += n;
  return s;
}

void ChainWriter::unwrite(size_t n) {
  n = std::min(n, off_);  // only within the current piece
  off_ -= n;
  written_ -= n;
}

Result<VirtQueue> VirtQueue::create(const GuestMemory& mem, const Config& cfg) {
  if (!is_pow2(cfg.size) || cfg.size > kMaxSize)
    return make_error(
        "virtqueue size " + std::to_string(cfg.size) + " is not a power of two <= 32768", EINVAL);
  if (cfg.desc_gpa % 16 || cfg.avail_gpa % 2 || cfg.used_gpa % 4)
    return make_error("virtqueue ring misaligned", EINVAL);
  const uint64_t n = cfg.size;
  auto desc = RUNVM_TRY(mem.slice(cfg.desc_gpa, 16 * n).context("descriptor table"));
  auto avail = RUNVM_TRY(mem.slice(cfg.avail_gpa, 6 + 2 * n).context("avail ring"));
  auto used = RUNVM_TRY(mem.slice(cfg.used_gpa, 6 + 8 * n).context("used ring"));
  VirtQueue q;
  q.mem_ = &mem;
  q.size_ = cfg.size;
  q.desc_ = reinterpret_cast<vring::Desc*>(desc.data());
  q.avail_ = reinterpret_cast<vring::Avail*>(avail.data());
  q.used_ = reinterpret_cast<vring::Used*>(used.data());
  q.next_avail_ = cfg.next_avail;
  // Only we write the used index; continuing from it survives a backend restart.
  // Any value is memory-safe: it is only ever used modulo size.
  q.next_used_ = load_acquire(&q.used_->idx);
  q.signalled_used_ = q.next_used_;
  q.event_idx_ = cfg.event_idx;
  return q;
}

uint16_t VirtQueue::avail_idx() const { return load_acquire(&avail_->idx); }

Result<bool> VirtQueue::pop(DescChain& chain) {
  chain.clear();
  uint16_t avail = avail_idx();
  uint16_t pending = static_cast<uint16_t>(avail - next_avail_);
  if (pending == 0) return false;
  if (pending > size_) return make_error("avail index ran ahead of the ring", EINVAL);

  uint16_t head = load_acquire(&avail_->ring[next_avail_ % size_]);
  if (head >= size_) return make_error("descriptor head out of range", EINVAL);
  ++next_avail_;
  chain.head = head;

  uint16_t idx = head;
  uint32_t count = 0;
  uint64_t total = 0;
  while (true) {
    if (++count > size_) return make_error("descriptor chain loops", ELOOP);
    vring::Desc d;
    std::memcpy(&d, &desc_[idx], sizeof d);  // one snapshot: the guest may race us
    if (d.flags & vring::kDescIndirect)
      return make_error("indirect descriptors not negotiated", EINVAL);
    total += d.len;
    if (total > UINT32_MAX) return make_error("descriptor chain too long", EINVAL);
    auto buf = RUNVM_TRY(mem_->slice(d.addr, d.len).context("descriptor buffer"));
    if (d.flags & vring::kDescWrite) {
      chain.writable.push_back(buf);
    } else {
      if (!chain.writable.empty())
        return make_error("readable descriptor after writable one", EINVAL);
      chain.readable.push_back(buf);
    }
    if (!(d.flags & vring::kDescNext)) break;
    if (d.next >= size_) return make_error("descriptor next out of range", EINVAL);
    idx = d.next;
  }
  return true;
}

Status VirtQueue::push_used(uint16_t head, uint32_t len) {
  if (head >= size_) return make_error("used head out of range", EINVAL);
  vring::UsedElem& e = used_->ring[next_used_ % size_];
  e.id = head;
  e.len = len;
  ++next_used_;
  store_release(&used_->idx, next_used_);
  pending_notify_ = true;
  return {};
}

bool VirtQueue::notify() {
  if (!pending_notify_) return false;
  pending_notify_ = false;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  bool need;
  if (event_idx_) {
    // used_event lives just past the avail ring.
    uint16_t used_event = load_acquire(&avail_->ring[size_]);
    need = vring::need_event(used_event, next_used_, signalled_used_);
  } else {
    need = !(load_acquire(&avail_->flags) & vring::kAvailNoInterrupt);
  }
  signalled_used_ = next_used_;
  if (need && call_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(call_fd_, &one, sizeof one);
  }
  return need;
}

bool VirtQueue::enable_kicks() {
  if (event_idx_) {
    // avail_event lives just past the used ring.
    auto* avail_event = reinterpret_cast<uint16_t*>(&used_->ring[size_]);
    store_release(avail_event, next_avail_);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return avail_idx() != next_avail_;
}

}  // namespace runvm
