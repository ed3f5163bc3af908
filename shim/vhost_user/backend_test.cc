#include "shim/vhost_user/backend.h"

#include <gtest/gtest.h>

#include <cstring>

#include "shim/vhost_user/test_support.h"

namespace runvm::vhost_user {
namespace {

using testing::FakeDevice;
using testing::GuestRam;

Message msg(uint32_t req, Payload p = {}, uint32_t flags = kVersion) {
  Message m;
  m.header = Header{req, flags, 0};
  m.payload = std::move(p);
  return m;
}

uint64_t u64_of(const Reply& r) {
  uint64_t v = 0;
  EXPECT_EQ(r.payload.size(), 8u);
  if (r.payload.size() == 8) std::memcpy(&v, r.payload.data(), 8);
  return v;
}

class BackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(EventLoop::create().value());
    backend_ = std::make_unique<VhostUserBackend>(dev_, *loop_);
    for (auto& k : kick_) k = testing::make_eventfd();
    for (auto& c : call_) c = testing::make_eventfd();
  }

  // Applies a request that must succeed; returns its reply.
  std::optional<Reply> ok(Message m) {
    auto r = backend_->handle(std::move(m));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(*r) : std::nullopt;
  }
  Error fails(Message m) {
    auto r = backend_->handle(std::move(m));
    EXPECT_FALSE(r.ok());
    return r.ok() ? Error{} : r.error();
  }

  // QEMU's order for a vhost-user-vsock start, up to (not including) enabling.
  void negotiate(bool protocol_features = true) {
    uint64_t offered = u64_of(*ok(msg(kGetFeatures)));
    ok(msg(kGetProtocolFeatures));
    ok(msg(kSetProtocolFeatures, uint64_t{kProtocolReplyAck | kProtocolConfig}));
    ok(msg(kSetOwner));
    uint64_t acked = offered;
    if (!protocol_features) acked &= ~kFeatureProtocolFeatures;
    ok(msg(kSetFeatures, acked));
    ok(msg(kSetMemTable, ram_.table()));
    for (uint32_t q = 0; q < 2; ++q) setup_ring(q);
  }
  void setup_ring(uint32_t q) {
    ok(msg(kSetVringNum, VringState{q, GuestRam::kQueueSize}));
    ok(msg(kSetVringBase, VringState{q, 0}));
    ok(msg(kSetVringAddr, GuestRam::addr(q)));
    ok(msg(kSetVringKick, VringFd{q, testing::dup_fd(kick_[q].get())}));
    ok(msg(kSetVringCall, VringFd{q, testing::dup_fd(call_[q].get())}));
  }
  void enable(uint32_t q) { ok(msg(kSetVringEnable, VringState{q, 1})); }
  void run_loop() { ASSERT_TRUE(loop_->run_once(0).ok()); }

  FakeDevice dev_;
  GuestRam ram_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<VhostUserBackend> backend_;
  UniqueFd kick_[2], call_[2];
};

TEST_F(BackendTest, OffersDeviceAndTransportFeatures) {
  uint64_t f = u64_of(*ok(msg(kGetFeatures)));
  EXPECT_TRUE(f & (1ull << 32));                            // from the device
  EXPECT_TRUE(f & kFeatureProtocolFeatures);                // bit 30
  EXPECT_TRUE(f & (1ull << vring::kEventIdxFeature));       // we implement it
  EXPECT_FALSE(f & (1ull << vring::kIndirectDescFeature));  // device said so, we can't
  EXPECT_EQ(u64_of(*ok(msg(kGetProtocolFeatures))), kProtocolReplyAck | kProtocolConfig);
  EXPECT_EQ(u64_of(*ok(msg(kGetQueueNum))), 2u);
}

TEST_F(BackendTest, SetFeaturesForwardsVirtioBitsOnly) {
  uint64_t f = u64_of(*ok(msg(kGetFeatures)));
  EXPECT_FALSE(ok(msg(kSetFeatures, f)).has_value());
  EXPECT_EQ(dev_.acked, f & ~kFeatureProtocolFeatures);
  fails(msg(kSetFeatures, f | (1ull << vring::kIndirectDescFeature)));
  fails(msg(kSetProtocolFeatures, uint64_t{kProtocolMq}));
}

TEST_F(BackendTest, NeedReplyGetsAck) {
  auto r = ok(msg(kSetOwner, {}, kVersion | kNeedReplyFlag));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->request, kSetOwner);
  EXPECT_EQ(u64_of(*r), 0u);
  EXPECT_FALSE(ok(msg(kSetOwner)).has_value());
}

TEST_F(BackendTest, FullNegotiationKickAndVringBase) {
  negotiate();
  // Protocol features acked: rings wait for SET_VRING_ENABLE.
  EXPECT_EQ(dev_.count("started 0"), 0u);
  enable(0);
  enable(1);
  EXPECT_EQ(dev_.count("started 0"), 1u);
  EXPECT_EQ(dev_.count("started 1"), 1u);
  ASSERT_NE(dev_.queues[0], nullptr);

  ram_.post(0, 3, 16);
  ram_.post(0, 5, 32);
  testing::signal(kick_[0].get());
  run_loop();
  EXPECT_EQ(dev_.count("kicked 0"), 1u);
  EXPECT_EQ(dev_.count("kicked 1"), 0u);
  EXPECT_EQ(ram_.used_idx(0), 2);
  EXPECT_EQ(ram_.used_elem(0, 0).id, 3u);
  EXPECT_EQ(ram_.used_elem(0, 1).len, 32u);
  EXPECT_GT(testing::drain(call_[0].get()), 0u);  // the driver was interrupted

  auto r = ok(msg(kGetVringBase, VringState{0, 0}));
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->payload.size(), 8u);
  VringState s;
  std::memcpy(&s.index, r->payload.data(), 4);
  std::memcpy(&s.num, r->payload.data() + 4, 4);
  EXPECT_EQ(s.index, 0u);
  EXPECT_EQ(s.num, 2u);  // the device popped two chains
  EXPECT_EQ(dev_.count("stopped 0"), 1u);
  EXPECT_FALSE(backend_->queue_running(0));
  EXPECT_TRUE(backend_->queue_running(1));

  // The stopped ring's kick fd is gone: kicks no longer reach the device.
  testing::signal(kick_[0].get());
  run_loop();
  EXPECT_EQ(dev_.count("kicked 0"), 1u);
}

TEST_F(BackendTest, RestartContinuesFromBase) {
  negotiate();
  enable(0);
  ram_.post(0, 0, 8);
  testing::signal(kick_[0].get());
  run_loop();
  ok(msg(kGetVringBase, VringState{0, 0}));
  // Restart as QEMU does, with the base it got back.
  ok(msg(kSetVringBase, VringState{0, 1}));
  ok(msg(kSetVringKick, VringFd{0, testing::dup_fd(kick_[0].get())}));
  EXPECT_EQ(dev_.count("started 0"), 2u);
  ASSERT_NE(dev_.queues[0], nullptr);
  EXPECT_EQ(dev_.queues[0]->next_avail(), 1);
  ram_.post(0, 1, 8);
  testing::signal(kick_[0].get());
  run_loop();
  EXPECT_EQ(ram_.used_idx(0), 2);
  EXPECT_EQ(ram_.used_elem(0, 1).id, 1u);
}

TEST_F(BackendTest, WithoutProtocolFeaturesRingsStartEnabled) {
  negotiate(/*protocol_features=*/false);
  EXPECT_EQ(dev_.count("started 0"), 1u);
  EXPECT_EQ(dev_.count("started 1"), 1u);
}

TEST_F(BackendTest, DisableStopsRing) {
  negotiate();
  enable(0);
  ok(msg(kSetVringEnable, VringState{0, 0}));
  EXPECT_EQ(dev_.count("stopped 0"), 1u);
  EXPECT_FALSE(backend_->queue_running(0));
  fails(msg(kSetVringEnable, VringState{0, 2}));
  enable(0);
  EXPECT_EQ(dev_.count("started 0"), 2u);
}

TEST_F(BackendTest, NewMemTableRestartsRunningQueues) {
  negotiate();
  enable(0);
  ram_.post(0, 2, 8);
  testing::signal(kick_[0].get());
  run_loop();
  VirtQueue* before = dev_.queues[0];
  ok(msg(kSetMemTable, ram_.table()));
  EXPECT_EQ(dev_.calls[dev_.calls.size() - 2], "stopped 0");
  EXPECT_EQ(dev_.calls.back(), "started 0");
  ASSERT_NE(dev_.queues[0], nullptr);
  (void)before;
  EXPECT_EQ(dev_.queues[0]->next_avail(), 1);
  // Still works on the new mapping.
  ram_.post(0, 4, 8);
  testing::signal(kick_[0].get());
  run_loop();
  EXPECT_EQ(ram_.used_idx(0), 2);
}

TEST_F(BackendTest, CallFdSwapAppliesToRunningQueue) {
  negotiate();
  enable(0);
  auto other = testing::make_eventfd();
  ok(msg(kSetVringCall, VringFd{0, testing::dup_fd(other.get())}));
  EXPECT_TRUE(backend_->queue_running(0));
  ram_.post(0, 1, 8);
  testing::signal(kick_[0].get());
  run_loop();
  EXPECT_GT(testing::drain(other.get()), 0u);
  EXPECT_EQ(testing::drain(call_[0].get()), 0u);
}

TEST_F(BackendTest, BadVringIndexRejected) {
  negotiate();
  fails(msg(kSetVringNum, VringState{2, 8}));
  fails(msg(kSetVringBase, VringState{7, 0}));
  fails(msg(kGetVringBase, VringState{2, 0}));
  fails(msg(kSetVringEnable, VringState{255, 1}));
  fails(msg(kSetVringKick, VringFd{2, testing::make_eventfd()}));
  fails(msg(kSetVringCall, VringFd{2, testing::make_eventfd()}));
  VringAddr a = GuestRam::addr(0);
  a.index = 9;
  fails(msg(kSetVringAddr, a));
}

TEST_F(BackendTest, BadRingSizesRejected) {
  fails(msg(kSetVringNum, VringState{0, 0}));
  fails(msg(kSetVringNum, VringState{0, 100}));
  fails(msg(kSetVringNum, VringState{0, 65536}));
  ok(msg(kSetVringNum, VringState{0, 32768}));
  fails(msg(kSetVringBase, VringState{0, 0x10000}));
}

TEST_F(BackendTest, RingOutsideMemoryFailsToStart) {
  ok(msg(kSetFeatures, u64_of(*ok(msg(kGetFeatures))) & ~kFeatureProtocolFeatures));
  ok(msg(kSetMemTable, ram_.table()));
  ok(msg(kSetVringNum, VringState{0, 8}));
  VringAddr a = GuestRam::addr(0);
  a.used_uva = GuestRam::kUva[0] + GuestRam::kRegionSize - 8;  // runs off the region
  ok(msg(kSetVringAddr, a));
  fails(msg(kSetVringKick, VringFd{0, testing::dup_fd(kick_[0].get())}));
  EXPECT_FALSE(backend_->queue_running(0));
  EXPECT_EQ(dev_.count("started 0"), 0u);
  // Fixing the address starts it.
  ok(msg(kSetVringAddr, GuestRam::addr(0)));
  EXPECT_TRUE(backend_->queue_running(0));
}

TEST_F(BackendTest, PollingKickRejected) {
  fails(msg(kSetVringKick, VringFd{0, UniqueFd()}));
  ok(msg(kSetVringCall, VringFd{0, UniqueFd()}));  // no call fd: fine
}

TEST_F(BackendTest, GetConfigBounds) {
  auto r = ok(msg(kGetConfig, ConfigSpace{0, 0, std::vector<uint8_t>(8)}));
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->payload.size(), 12u + 8);
  EXPECT_EQ(r->payload[12], 3);  // guest_cid

  auto part = ok(msg(kGetConfig, ConfigSpace{4, 0, std::vector<uint8_t>(4)}));
  ASSERT_TRUE(part.has_value());
  uint32_t off;
  std::memcpy(&off, part->payload.data(), 4);
  EXPECT_EQ(off, 4u);
  EXPECT_EQ(part->payload.size(), 12u + 4);

  fails(msg(kGetConfig, ConfigSpace{4, 0, std::vector<uint8_t>(8)}));
  fails(msg(kGetConfig, ConfigSpace{0, 0, std::vector<uint8_t>(9)}));
  fails(msg(kGetConfig, ConfigSpace{0xffffffff, 0, std::vector<uint8_t>(2)}));
  fails(msg(kSetConfig, ConfigSpace{0, 0, std::vector<uint8_t>(8)}));
}

TEST_F(BackendTest, UnknownRequestFails) {
  Error e = fails(msg(kGetMaxMemSlots));
  EXPECT_EQ(e.code, ENOSYS);
  fails(msg(1000));
}

TEST_F(BackendTest, BadMemTableKeepsOldMemory) {
  negotiate();
  enable(0);
  MemTable bad;
  bad.regions.push_back({0, 0, 0, 0, testing::dup_fd(ram_.region_fd(0))});  // size 0
  fails(msg(kSetMemTable, std::move(bad)));
  // Larger than the memfd behind it (touching it would SIGBUS).
  MemTable past_eof;
  past_eof.regions.push_back(
      {0, GuestRam::kRegionSize + 4096, GuestRam::kUva[0], 0, testing::dup_fd(ram_.region_fd(0))});
  fails(msg(kSetMemTable, std::move(past_eof)));
  MemTable offset_past_eof;
  offset_past_eof.regions.push_back(
      {0, 4096, GuestRam::kUva[0], GuestRam::kRegionSize, testing::dup_fd(ram_.region_fd(0))});
  fails(msg(kSetMemTable, std::move(offset_past_eof)));
  MemTable not_a_file;
  not_a_file.regions.push_back({0, 4096, 0, 0, testing::make_eventfd()});
  fails(msg(kSetMemTable, std::move(not_a_file)));
  EXPECT_TRUE(backend_->queue_running(0));
  EXPECT_EQ(dev_.count("stopped 0"), 0u);
}

TEST_F(BackendTest, DisconnectStopsEverythingAndResets) {
  negotiate();
  enable(0);
  enable(1);
  backend_->disconnect();
  EXPECT_EQ(dev_.count("stopped 0"), 1u);
  EXPECT_EQ(dev_.count("stopped 1"), 1u);
  EXPECT_FALSE(backend_->queue_running(0));
  // Kicks after disconnect go nowhere.
  testing::signal(kick_[0].get());
  run_loop();
  EXPECT_EQ(dev_.count("kicked 0"), 0u);
  // A new front-end can negotiate from scratch.
  negotiate();
  enable(0);
  EXPECT_EQ(dev_.count("started 0"), 2u);
}

TEST_F(BackendTest, ResetOwnerStopsQueues) {
  negotiate();
  enable(1);
  ok(msg(kResetOwner));
  EXPECT_EQ(dev_.count("stopped 1"), 1u);
  EXPECT_FALSE(backend_->queue_running(1));
}

}  // namespace
}  // namespace runvm::vhost_user
