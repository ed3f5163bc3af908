#include "shim/virtio/virtqueue.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include "shim/virtio/fake_ring_test_util.h"

namespace runvm {
namespace {

using testing::FakeDriverRing;
using testing::FakeGuest;

TEST(VirtQueue, RejectsBadGeometry) {
  FakeGuest g;
  FakeDriverRing ring(g, 8);
  auto cfg = ring.config();
  cfg.size = 6;
  EXPECT_FALSE(VirtQueue::create(g.mem(), cfg).ok());
  cfg = ring.config();
  cfg.desc_gpa += 8;  // misaligned
  EXPECT_FALSE(VirtQueue::create(g.mem(), cfg).ok());
  cfg = ring.config();
  cfg.used_gpa = g.base() + (1 << 20) - 8;  // runs off the end of memory
  EXPECT_FALSE(VirtQueue::create(g.mem(), cfg).ok());
  EXPECT_TRUE(VirtQueue::create(g.mem(), ring.config()).ok());
}

TEST(VirtQueue, PopsChainsInOrderWithReadableThenWritable) {
  FakeGuest g;
  FakeDriverRing ring(g, 8);
  auto q = VirtQueue::create(g.mem(), ring.config());
  ASSERT_TRUE(q.ok());
  uint64_t a = g.alloc(10), b = g.alloc(20), c = g.alloc(30);
  std::memcpy(g.host(a), "0123456789", 10);
  uint16_t head = ring.add({{a, 10, false}, {b, 20, false}, {c, 30, true}});

  DescChain chain;
  auto r = q->pop(chain);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(*r);
  EXPECT_EQ(chain.head, head);
  EXPECT_EQ(chain.readable.size(), 2u);
  EXPECT_EQ(chain.writable.size(), 1u);
  EXPECT_EQ(chain.readable_bytes(), 30u);
  EXPECT_EQ(chain.writable_bytes(), 30u);
  char buf[12] = {};
  ChainReader reader(chain.readable);
  EXPECT_EQ(reader.read(buf, 12), 12u);
  EXPECT_EQ(std::string(buf, 10), "0123456789");

  ChainWriter writer(chain.writable);
  EXPECT_EQ(writer.write("hello", 5), 5u);
  EXPECT_EQ(std::memcmp(g.host(c), "hello", 5), 0);
  ASSERT_TRUE(q->push_used(chain.head, 5).ok());
  EXPECT_EQ(ring.used_idx(), 1);
  EXPECT_EQ(ring.used_elem(0).id, head);
  EXPECT_EQ(ring.used_elem(0).len, 5u);

  auto empty = q->pop(chain);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(*empty);
}

TEST(VirtQueue, MalformedChainsAreErrorsNotCrashes) {
  FakeGuest g;
  FakeDriverRing ring(g, 4);
  uint64_t a = g.alloc(16);

  {  // loop: descriptor 0 -> 1 -> 0
    auto q = *VirtQueue::create(g.mem(), ring.config());
    ring.desc(0)->addr = a;
    ring.desc(0)->len = 4;
    ring.desc(0)->flags = vring::kDescNext;
    ring.desc(0)->next = 1;
    ring.desc(1)->addr = a;
    ring.desc(1)->len = 4;
    ring.desc(1)->flags = vring::kDescNext;
    ring.desc(1)->next = 0;
    ring.publish(0);
    DescChain chain;
    auto r = q.pop(chain);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ELOOP);
  }
  FakeGuest g2;
  FakeDriverRing ring2(g2, 4);
  auto expect_error = [&](auto setup) {
    FakeGuest gg;
    FakeDriverRing rr(gg, 4);
    auto q = *VirtQueue::create(gg.mem(), rr.config());
    setup(gg, rr);
    DescChain chain;
    auto r = q.pop(chain);
    EXPECT_FALSE(r.ok());
  };
  // Buffer outside guest memory.
  expect_error([](FakeGuest&, FakeDriverRing& r) {
    r.desc(0)->addr = 0xdead0000;
    r.desc(0)->len = 8;
    r.desc(0)->flags = 0;
    r.publish(0);
  });
  // Buffer straddling the end of memory (and a wrapping length).
  expect_error([](FakeGuest& gg, FakeDriverRing& r) {
    r.desc(0)->addr = gg.base() + (1 << 20) - 4;
    r.desc(0)->len = 8;
    r.desc(0)->flags = 0;
    r.publish(0);
  });
  expect_error([](FakeGuest& gg, FakeDriverRing& r) {
    r.desc(0)->addr = ~0ull - 2;
    r.desc(0)->len = 8;
    r.desc(0)->flags = 0;
    (void)gg;
    r.publish(0);
  });
  // Head index out of range.
  expect_error([](FakeGuest&, FakeDriverRing& r) { r.publish(7); });
  // Next index out of range.
  expect_error([](FakeGuest& gg, FakeDriverRing& r) {
    r.desc(0)->addr = gg.base();
    r.desc(0)->len = 8;
    r.desc(0)->flags = vring::kDescNext;
    r.desc(0)->next = 9;
    r.publish(0);
  });
  // Indirect descriptors were not negotiated.
  expect_error([](FakeGuest& gg, FakeDriverRing& r) {
    r.desc(0)->addr = gg.base();
    r.desc(0)->len = 16;
    r.desc(0)->flags = vring::kDescIndirect;
    r.publish(0);
  });
  // Readable after writable.
  expect_error([](FakeGuest& gg, FakeDriverRing& r) {
    r.desc(0)->addr = gg.base();
    r.desc(0)->len = 8;
    r.desc(0)->flags = vring::kDescWrite | vring::kDescNext;
    r.desc(0)->next = 1;
    r.desc(1)->addr = gg.base();
    r.desc(1)->len = 8;
    r.desc(1)->flags = 0;
    r.publish(0);
  });
  // Avail index running more than a ring ahead.
  expect_error([](FakeGuest&, FakeDriverRing& r) { r.avail()->idx = 100; });
}

TEST(VirtQueue, UndoPopReturnsTheChain) {
  FakeGuest g;
  FakeDriverRing ring(g, 4);
  auto q = *VirtQueue::create(g.mem(), ring.config());
  uint16_t head = ring.add({{g.alloc(8), 8, true}});
  DescChain chain;
  ASSERT_TRUE(*q.pop(chain));
  q.undo_pop();
  EXPECT_EQ(q.next_avail(), 0);
  ASSERT_TRUE(*q.pop(chain));
  EXPECT_EQ(chain.head, head);
}

uint64_t drain(int fd) {
  uint64_t v = 0;
  if (read(fd, &v, sizeof v) != sizeof v) return 0;
  return v;
}

TEST(VirtQueue, NotifiesUnlessSuppressed) {
  FakeGuest g;
  FakeDriverRing ring(g, 4);
  auto q = *VirtQueue::create(g.mem(), ring.config());
  UniqueFd call(eventfd(0, EFD_NONBLOCK));
  q.set_call_fd(call.get());
  DescChain chain;
  ring.add({{g.alloc(8), 8, true}});
  ASSERT_TRUE(*q.pop(chain));
  ASSERT_TRUE(q.push_used(chain.head, 0).ok());
  EXPECT_TRUE(q.notify());
  EXPECT_EQ(drain(call.get()), 1u);
  EXPECT_FALSE(q.notify());  // nothing new used
  EXPECT_EQ(drain(call.get()), 0u);

  ring.avail()->flags = vring::kAvailNoInterrupt;
  ring.add({{g.alloc(8), 8, true}});
  ASSERT_TRUE(*q.pop(chain));
  ASSERT_TRUE(q.push_used(chain.head, 0).ok());
  EXPECT_FALSE(q.notify());
  EXPECT_EQ(drain(call.get()), 0u);
}

TEST(VirtQueue, EventIdxNotifiesOnlyWhenCrossingUsedEvent) {
  FakeGuest g;
  FakeDriverRing ring(g, 8);
  auto q = *VirtQueue::create(g.mem(), ring.config(/*event_idx=*/true));
  UniqueFd call(eventfd(0, EFD_NONBLOCK));
  q.set_call_fd(call.get());
  uint16_t* used_event = &ring.avail()->ring[8];
  *used_event = 2;  // driver wants a notification once entry #2 is used
  DescChain chain;
  for (int i = 0; i < 4; ++i) ring.add({{g.alloc(8), 8, true}});
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(*q.pop(chain));
    ASSERT_TRUE(q.push_used(chain.head, 0).ok());
  }
  EXPECT_FALSE(q.notify());  // used idx 2: used_event 2 not yet crossed
  EXPECT_EQ(drain(call.get()), 0u);
  ASSERT_TRUE(*q.pop(chain));
  ASSERT_TRUE(q.push_used(chain.head, 0).ok());
  EXPECT_TRUE(q.notify());  // used idx 3 crosses used_event 2
  EXPECT_EQ(drain(call.get()), 1u);

  // enable_kicks publishes avail_event and reports pending entries.
  EXPECT_TRUE(q.enable_kicks());
  auto* avail_event = reinterpret_cast<uint16_t*>(&ring.used()->ring[8]);
  EXPECT_EQ(*avail_event, 3);
  ASSERT_TRUE(*q.pop(chain));
  EXPECT_FALSE(q.enable_kicks());
}

TEST(ChainIo, CrossesBufferBoundaries) {
  std::vector<uint8_t> a(3), b(0), c(5);
  std::vector<std::span<uint8_t>> bufs{a, b, c};
  ChainWriter w(bufs);
  EXPECT_EQ(w.remaining(), 8u);
  EXPECT_EQ(w.write("abcdefghij", 10), 8u);
  EXPECT_EQ(w.written(), 8u);
  ChainReader r(bufs);
  char out[8];
  EXPECT_EQ(r.skip(2), 2u);
  EXPECT_EQ(r.remaining(), 6u);
  EXPECT_EQ(r.read(out, 8), 6u);
  EXPECT_EQ(std::string(out, 6), "cdefgh");
}

}  // namespace
}  // namespace runvm
