#include "guest/test_agent/transfer_stream.h"

#include <algorithm>
#include <cstring>

namespace runvm::test_agent {
namespace {

void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

TransferStream::TransferStream(uint64_t seed) : state_(seed ^ kSeedMix) {
  if (state_ == 0) state_ = kSeedMix;
}

uint64_t TransferStream::next_word() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545F4914F6CDD1Dull;
}

void TransferStream::fill(std::span<uint8_t> out) {
  uint8_t* p = out.data();
  size_t left = out.size();
  position_ += left;
  // Finish the partly emitted word first so chunk boundaries are invisible.
  size_t take = std::min(left, sizeof word_ - word_used_);
  std::memcpy(p, word_ + word_used_, take);
  word_used_ += take;
  p += take;
  left -= take;
  for (; left >= 8; p += 8, left -= 8) store_le64(p, next_word());
  if (left > 0) {
    store_le64(word_, next_word());
    std::memcpy(p, word_, left);
    word_used_ = left;
  }
}

bool TransferStream::matches(std::span<const uint8_t> data) {
  uint8_t buf[4096];
  bool same = true;
  for (size_t off = 0; off < data.size(); off += sizeof buf) {
    size_t n = std::min(sizeof buf, data.size() - off);
    fill(std::span<uint8_t>(buf, n));
    if (std::memcmp(buf, data.data() + off, n) != 0) same = false;
  }
  return same;
}

}  // namespace runvm::test_agent
