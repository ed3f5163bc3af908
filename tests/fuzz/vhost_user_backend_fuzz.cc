// A hostile vhost-user session against the back-end state machine: arbitrary
// request sequences mixed with well-formed setup steps (so queues really run),
// guest RAM contents from the input, and kicks. Nothing may crash or touch
// memory outside the shared regions.
#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "shim/vhost_user/backend.h"
#include "shim/vhost_user/test_support.h"

using namespace runvm;
using namespace runvm::vhost_user;

namespace {

constexpr uint64_t kRam = 0x10000;
constexpr uint64_t kUva = 0x7f0000000000;

class Input {
 public:
  Input(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool empty() const { return n_ == 0; }
  uint8_t byte() {
    if (!n_) return 0;
    --n_;
    return *d_++;
  }
  std::vector<uint8_t> bytes(size_t n) {
    n = std::min(n, n_);
    std::vector<uint8_t> v(d_, d_ + n);
    d_ += n;
    n_ -= n;
    return v;
  }

 private:
  const uint8_t* d_;
  size_t n_;
};

int ram_fd() {
  static int fd = [] {
    int f = memfd_create("fuzz-ram", MFD_CLOEXEC);
    if (f < 0 || ftruncate(f, kRam) != 0) abort();
    return f;
  }();
  return fd;
}

Message make(uint32_t req, Payload p) {
  Message m;
  m.header = Header{req, kVersion, 0};
  m.payload = std::move(p);
  return m;
}

// Fds a request of this shape carries, as a front-end would send them.
std::vector<UniqueFd> fds_for(uint32_t req, const std::vector<uint8_t>& payload) {
  std::vector<UniqueFd> fds;
  if (req == kSetMemTable && payload.size() >= 4) {
    uint32_t n;
    std::memcpy(&n, payload.data(), 4);
    for (uint32_t i = 0; i < std::min<uint32_t>(n, kMaxFds); ++i)
      fds.push_back(testing::dup_fd(ram_fd()));
  } else if ((req == kSetVringKick || req == kSetVringCall || req == kSetVringErr) &&
             payload.size() >= 2 && !(payload[1] & 1)) {
    fds.push_back(testing::make_eventfd());
  }
  return fds;
}

// The guest's view of its RAM, mapped once: a fresh mapping per input (its
// page faults, then the unmap) cost more than the back-end's work on an input.
uint8_t* guest_ram() {
  static uint8_t* ram = [] {
    void* p = mmap(nullptr, kRam, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd(), 0);
    if (p == MAP_FAILED) abort();
    return static_cast<uint8_t*>(p);
  }();
  return ram;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  uint8_t* ram = guest_ram();
  std::memset(ram, 0, kRam);  // every input starts from the same RAM
  {
    auto loop = std::move(EventLoop::create().value());
    testing::FakeDevice dev;
    dev.record_calls = false;
    VhostUserBackend backend(dev, *loop);
    // The kick the back-end holds for each queue (the last one set up): an
    // earlier one it has closed its copy of, so kicking it would do nothing.
    UniqueFd kicks[2];
    int prev = -1;
    while (!in.empty()) {
      const int kind = in.byte() % 6;
      const int last = std::exchange(prev, kind);
      switch (kind) {
        case 0: {  // arbitrary request
          uint32_t req = in.byte() % 42;
          uint32_t flags = kVersion | (in.byte() & kNeedReplyFlag);
          auto payload = in.bytes(in.byte());
          Header h{req, flags, static_cast<uint32_t>(payload.size())};
          auto m = parse_message(h, payload, fds_for(req, payload));
          if (m.ok()) (void)backend.handle(std::move(*m));
          break;
        }
        case 1: {  // a valid memory table
          // Replacing it with itself again at once ends in the same state,
          // and costs an unmap: under nested virtualisation its TLB flush
          // was most of an input's time (runs of these bytes are cheap to
          // mutate into), so a run of them counts once.
          if (last == 1) break;
          MemTable t;
          t.regions.push_back({0, kRam, kUva, 0, testing::dup_fd(ram_fd())});
          (void)backend.handle(make(kSetMemTable, std::move(t)));
          break;
        }
        case 2: {  // a valid ring setup for queue q
          uint32_t q = in.byte() % 2;
          uint64_t base = q * 0x4000;
          (void)backend.handle(make(kSetVringNum, VringState{q, 8}));
          (void)backend.handle(
              make(kSetVringAddr,
                   VringAddr{q, 0, kUva + base, kUva + base + 0x2000, kUva + base + 0x1000, 0}));
          kicks[q] = testing::make_eventfd();
          (void)backend.handle(make(kSetVringKick, VringFd{q, testing::dup_fd(kicks[q].get())}));
          (void)backend.handle(make(kSetVringEnable, VringState{q, 1}));
          break;
        }
        case 3: {  // guest writes its RAM
          uint64_t off = (in.byte() * 64ull) % kRam;
          auto b = in.bytes(64);
          // (memcpy from an empty vector's null data() is UB, which UBSan reports)
          if (!b.empty())
            std::memcpy(ram + off, b.data(), std::min<uint64_t>(b.size(), kRam - off));
          break;
        }
        case 4:  // guest kicks everything
          for (auto& k : kicks)
            if (k) testing::signal(k.get());
          (void)loop->run_once(0);
          break;
        case 5:
          backend.disconnect();
          break;
      }
    }
  }
  return 0;
}
