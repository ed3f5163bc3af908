// Drives VsockDevice with hostile tx chains (raw bytes and half-valid
// headers), rx buffer starvation and host-side data, over fake guest memory.
// Asserts that every packet the device puts on the rx queue is well formed.
#include <sanitizer/asan_interface.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string_view>
#include <vector>

#include "shim/vsock/device.h"
#include "shim/vsock/fake_vring_test_util.h"

using namespace runvm;

namespace {

struct Input {
  const uint8_t* p;
  size_t n;
  bool take(void* out, size_t len) {
    if (len > n) return false;
    std::memcpy(out, p, len);
    p += len;
    n -= len;
    return true;
  }
  std::string_view bytes(size_t len) {
    len = std::min(len, n);
    std::string_view s(reinterpret_cast<const char*>(p), len);
    p += len;
    n -= len;
    return s;
  }
};

void check_rx(testing::FakeVsockGuest& g, uint64_t cid) {
  for (auto& pkt : g.take_rx()) {
    if (pkt.hdr.src_cid != vsock::kHostCid || pkt.hdr.dst_cid != cid ||
        pkt.hdr.type != VIRTIO_VSOCK_TYPE_STREAM || pkt.hdr.op == VIRTIO_VSOCK_OP_INVALID)
      std::abort();
  }
  if (g.bad_rx()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto loop = EventLoop::create();
  if (!loop.ok()) return 0;
  auto dev = VsockDevice::create(**loop, VsockConfig{3, ""});
  if (!dev.ok()) return 0;
  std::vector<UniqueFd> peers;
  (*dev)->set_port_handler(77, [&]() -> Result<UniqueFd> {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
      return errno_error("socketpair");
    peers.emplace_back(sv[1]);
    return UniqueFd(sv[0]);
  });
  // One guest memory for every input, zeroed by each: fresh memory's page
  // faults and unmap cost more than the device's work on an input. Poisoned
  // between inputs, so that the device touching it after its guest went is
  // still reported, as with memory freed at the end of each.
  constexpr uint32_t kRxBuf = 256, kTxBuf = 8192;
  static std::vector<uint8_t> ram(testing::FakeVsockGuest::ram_bytes(kRxBuf, kTxBuf));
  ASAN_UNPOISON_MEMORY_REGION(ram.data(), ram.size());
  {
    testing::FakeVsockGuest guest(**dev, kRxBuf, kTxBuf, /*event_idx=*/true, ram);
    guest.start();
    guest.post_rx(8);
    Input in{data, size};
    uint8_t op;
    uint16_t len;
    while (in.take(&op, 1) && in.take(&len, 2)) {
      switch (op & 7) {
        case 0:  // raw bytes as one chain, maybe split
          guest.send_raw(in.bytes(len), op >> 3);
          break;
        case 1: {  // a header with the right cids, so it reaches the connection logic
          vsock::Header h;
          uint8_t fields[12] = {};
          in.take(fields, sizeof fields);
          h = guest.hdr(fields[0] % 8, fields[1] % 4, (fields[2] & 1) ? 77 : fields[2], 0);
          h.type = fields[3] < 250 ? VIRTIO_VSOCK_TYPE_STREAM : fields[3];
          h.flags = fields[4];
          std::memcpy(&h.buf_alloc, &fields[5], 4);
          std::memcpy(&h.fwd_cnt, &fields[8], 4);
          auto payload = in.bytes(len % 8192);
          h.len = (op & 0x80) ? len : static_cast<uint32_t>(payload.size());
          guest.send(h, payload, (op >> 3) & 0xf);
          break;
        }
        case 2:
          guest.post_rx(len % 16, op & 8);
          break;
        case 3:
          (void)(*loop)->run_once(0);
          break;
        case 4: {
          auto payload = in.bytes(len % 8192);
          for (auto& p : peers) (void)::send(p.get(), payload.data(), payload.size(), MSG_NOSIGNAL);
          break;
        }
        case 5:
          if (!peers.empty()) peers.erase(peers.begin() + (len % peers.size()));
          break;
        case 6:
          (**dev).queue_kicked(len & 1);
          break;
        default:
          break;
      }
      check_rx(guest, 3);
    }
    (void)(*loop)->run_once(0);
    check_rx(guest, 3);
  }
  ASAN_POISON_MEMORY_REGION(ram.data(), ram.size());
  return 0;
}
