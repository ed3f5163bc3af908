// Random bytes as a guest's ring memory: popping must never crash or read
// outside guest memory, whatever the descriptors say.
#include <cstdint>
#include <cstring>
#include <vector>

#include "shim/virtio/virtqueue.h"

using namespace runvm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kBase = 0x1000;
  constexpr size_t kRam = 8192;
  std::vector<uint8_t> ram(kRam);
  std::memcpy(ram.data(), data, std::min(size, kRam));
  GuestMemory mem({MemoryRegion{kBase, kRam, 0, ram.data()}});
  VirtQueue::Config cfg{16, kBase, kBase + 256, kBase + 512, 0, size % 2 == 0};
  auto q = VirtQueue::create(mem, cfg);
  if (!q.ok()) return 0;
  DescChain chain;
  for (int i = 0; i < 64; ++i) {
    auto r = q->pop(chain);
    if (!r.ok() || !*r) break;
    ChainReader reader(chain.readable);
    uint8_t buf[64];
    while (reader.read(buf, sizeof buf) > 0) {
    }
    ChainWriter writer(chain.writable);
    writer.write(buf, sizeof buf);
    (void)q->push_used(chain.head, static_cast<uint32_t>(writer.written()));
  }
  q->notify();
  q->enable_kicks();
  return 0;
}
