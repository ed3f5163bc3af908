// FsDevice through fake virtqueues: the path QEMU's vhost-user-fs drives.
#include "shim/fs/fs_device.h"

#include <gtest/gtest.h>

#include <fstream>

#include "shim/fs/fuse_test_client.h"
#include "shim/virtio/fake_ring_test_util.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

using testing::FakeDriverRing;
using testing::FakeGuest;
using testing::TempDir;

class FsDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir / "hello") << "hi there";
    loop = std::move(*EventLoop::create());
    auto d = FsDevice::create(*loop, {dir.path(), CachePolicy::kExclusive, false});
    ASSERT_TRUE(d.ok()) << d.error().message;
    dev = std::move(*d);
    for (size_t i = 0; i < 2; ++i) {
      auto q = VirtQueue::create(guest.mem(), rings[i].config(true));
      ASSERT_TRUE(q.ok());
      queues[i].emplace(std::move(*q));
      dev->queue_started(i, &*queues[i]);
    }
  }

  // Puts a request into guest memory (readable split in two descriptors)
  // with a reply buffer; returns the reply buffer's gpa.
  uint64_t submit(size_t q, uint32_t opcode, uint64_t nodeid, const std::vector<uint8_t>& args,
                  int32_t len_delta = 0, uint32_t out_len = 4096) {
    fuse_in_header in{};
    in.opcode = opcode;
    in.unique = ++unique;
    in.nodeid = nodeid;
    std::vector<uint8_t> req(sizeof in);
    req.insert(req.end(), args.begin(), args.end());
    in.len = static_cast<uint32_t>(req.size() + len_delta);
    std::memcpy(req.data(), &in, sizeof in);
    uint64_t in_gpa = guest.alloc(req.size());
    std::memcpy(guest.host(in_gpa), req.data(), req.size());
    uint64_t out_gpa = guest.alloc(out_len);
    uint32_t first = static_cast<uint32_t>(std::min<size_t>(req.size(), 24));
    std::vector<FakeDriverRing::Buf> bufs = {{in_gpa, first, false}};
    if (req.size() > first)
      bufs.push_back({in_gpa + first, static_cast<uint32_t>(req.size() - first), false});
    bufs.push_back({out_gpa, out_len, true});
    rings[q].add(bufs);
    return out_gpa;
  }
  fuse_out_header reply_header(uint64_t gpa) {
    fuse_out_header h;
    std::memcpy(&h, guest.host(gpa), sizeof h);
    return h;
  }
  static std::vector<uint8_t> init_args() {
    fuse_init_in in{};
    in.major = 7;
    in.minor = 36;
    in.flags = FUSE_MAX_PAGES | FUSE_ASYNC_READ;
    std::vector<uint8_t> v(sizeof in);
    std::memcpy(v.data(), &in, sizeof in);
    return v;
  }

  TempDir dir;
  std::unique_ptr<EventLoop> loop;
  FakeGuest guest{4 << 20};
  FakeDriverRing rings[2] = {FakeDriverRing(guest, 256), FakeDriverRing(guest, 256)};
  std::optional<VirtQueue> queues[2];
  std::unique_ptr<FsDevice> dev;
  uint64_t unique = 0;
};

TEST_F(FsDeviceTest, ServesABatchOfRequestsFromTheRequestQueue) {
  uint64_t init = submit(1, FUSE_INIT, 0, init_args());
  uint64_t look = submit(1, FUSE_LOOKUP, FUSE_ROOT_ID, {'h', 'e', 'l', 'l', 'o', 0});
  dev->queue_kicked(1);
  ASSERT_EQ(rings[1].used_idx(), 2);
  EXPECT_EQ(reply_header(init).error, 0);
  auto io = reply_header(init);
  EXPECT_EQ(rings[1].used_elem(0).len, io.len);
  fuse_init_out out;
  std::memcpy(&out, guest.host(init) + sizeof(fuse_out_header), sizeof out);
  EXPECT_EQ(out.max_pages, 256u - 8);  // bounded by the 256-entry queue
  auto lh = reply_header(look);
  EXPECT_EQ(lh.error, 0);
  EXPECT_EQ(lh.len, sizeof(fuse_out_header) + sizeof(fuse_entry_out));
  fuse_entry_out e;
  std::memcpy(&e, guest.host(look) + sizeof(fuse_out_header), sizeof e);
  EXPECT_EQ(e.attr.size, 8u);
  EXPECT_EQ(dev->fs()->inode_count(), 2u);

  // FORGET on hiprio: consumed without a reply.
  fuse_forget_in f{1};
  std::vector<uint8_t> fa(sizeof f);
  std::memcpy(fa.data(), &f, sizeof f);
  submit(0, FUSE_FORGET, e.nodeid, fa);
  dev->queue_kicked(0);
  ASSERT_EQ(rings[0].used_idx(), 1);
  EXPECT_EQ(rings[0].used_elem(0).len, 0u);
  EXPECT_EQ(dev->fs()->inode_count(), 1u);

  // Only the request queue is accounted: one kick, one batch of two.
  const auto qs = dev->queue_stats().snapshot();
  EXPECT_EQ(qs.kicks, 1u);
  EXPECT_EQ(qs.batches, 1u);
  EXPECT_EQ(qs.requests, 2u);
  EXPECT_EQ(qs.max_batch, 2u);
  EXPECT_EQ(qs.gaps + qs.idle_gaps, 0u);
  EXPECT_NE(dev->format_stats().find("fuse-queue kicks=1 batches=1 requests=2"), std::string::npos);
}

TEST_F(FsDeviceTest, MalformedRequestsGetErrorsAndBigBatchesYieldToTheLoop) {
  uint64_t bad = submit(1, FUSE_INIT, 0, init_args(), /*len_delta=*/+8);
  dev->queue_kicked(1);
  ASSERT_EQ(rings[1].used_idx(), 1);
  EXPECT_EQ(reply_header(bad).error, -EINVAL);

  submit(1, FUSE_INIT, 0, init_args());
  const int n = FsDevice::kMaxBatch + 20;
  for (int i = 1; i < n; ++i)
    submit(1, FUSE_GETATTR, FUSE_ROOT_ID, std::vector<uint8_t>(16), 0, 256);
  dev->queue_kicked(1);
  EXPECT_EQ(rings[1].used_idx(), 1 + FsDevice::kMaxBatch);
  // The rest runs on the loop's next turn, without a new kick.
  ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(rings[1].used_idx(), 1 + n);
  // The yield splits the second kick's requests into two batches.
  const auto qs = dev->queue_stats().snapshot();
  EXPECT_EQ(qs.kicks, 2u);
  EXPECT_EQ(qs.batches, 3u);
  EXPECT_EQ(qs.requests, static_cast<uint64_t>(1 + n));
  EXPECT_EQ(qs.max_batch, static_cast<uint64_t>(FsDevice::kMaxBatch));

  dev->queue_stopped(1);
  submit(1, FUSE_GETATTR, FUSE_ROOT_ID, std::vector<uint8_t>(16));
  dev->queue_kicked(1);  // a stopped queue is left alone
  EXPECT_EQ(rings[1].used_idx(), 1 + n);
}

}  // namespace
}  // namespace runvm
