// The deterministic byte stream of a "transfer" request: both ends derive it
// from the seed, so the host can verify a guest->host transfer byte-exactly
// without the bytes ever being described on the control channel.
//
// Generator: xorshift64* (Vigna); each step yields one 64-bit word emitted
// little-endian. The state starts at seed ^ kSeedMix (kSeedMix itself when
// that is zero, which xorshift cannot leave).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace runvm::test_agent {

class TransferStream {
 public:
  static constexpr uint64_t kSeedMix = 0x9E3779B97F4A7C15ull;

  explicit TransferStream(uint64_t seed);

  // Writes the next out.size() bytes of the stream; chunking does not matter.
  void fill(std::span<uint8_t> out);
  // Consumes data.size() bytes of the stream; true when data matches them.
  bool matches(std::span<const uint8_t> data);

  uint64_t position() const { return position_; }

 private:
  uint64_t next_word();

  uint64_t state_;
  uint8_t word_[8] = {};
  size_t word_used_ = 8;  // bytes of word_ already emitted
  uint64_t position_ = 0;
};

}  // namespace runvm::test_agent
