#include "guest/test_agent/transfer_stream.h"

#include <gtest/gtest.h>

#include <vector>

namespace runvm::test_agent {
namespace {

std::vector<uint8_t> generate(uint64_t seed, size_t n) {
  std::vector<uint8_t> v(n);
  TransferStream(seed).fill(v);
  return v;
}

TEST(TransferStream, KnownPrefix) {
  // First word for seed 0: state = kSeedMix, one xorshift64* step, emitted
  // little-endian. Computed independently here to pin the wire format.
  uint64_t x = TransferStream::kSeedMix;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  uint64_t w = x * 0x2545F4914F6CDD1Dull;
  auto v = generate(0, 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(v[i], static_cast<uint8_t>(w >> (8 * i))) << i;
}

TEST(TransferStream, ChunkingDoesNotChangeBytes) {
  auto whole = generate(42, 1000);
  TransferStream s(42);
  std::vector<uint8_t> pieces;
  size_t sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 0, 100, 5};
  while (pieces.size() < whole.size()) {
    for (size_t n : sizes) {
      n = std::min(n, whole.size() - pieces.size());
      std::vector<uint8_t> chunk(n);
      s.fill(chunk);
      pieces.insert(pieces.end(), chunk.begin(), chunk.end());
    }
  }
  EXPECT_EQ(pieces, whole);
  EXPECT_EQ(s.position(), whole.size());
}

TEST(TransferStream, SeedsDiffer) {
  EXPECT_NE(generate(1, 64), generate(2, 64));
  // The seed that would zero the xorshift state is remapped, not stuck at 0.
  EXPECT_NE(generate(TransferStream::kSeedMix, 64), std::vector<uint8_t>(64, 0));
  EXPECT_EQ(generate(7, 64), generate(7, 64));
}

TEST(TransferStream, MatchesDetectsCorruption) {
  auto data = generate(9, 10000);
  EXPECT_TRUE(TransferStream(9).matches(data));
  data[9999] ^= 1;
  EXPECT_FALSE(TransferStream(9).matches(data));
  // matches() consumes the stream like fill() does.
  TransferStream s(9);
  auto good = generate(9, 10);
  EXPECT_TRUE(s.matches(std::span(good).first(4)));
  EXPECT_TRUE(s.matches(std::span(good).subspan(4)));
}

}  // namespace
}  // namespace runvm::test_agent
