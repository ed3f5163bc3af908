#include "shim/vsock/connection.h"

#include <gtest/gtest.h>

namespace runvm::vsock {
namespace {

constexpr uint64_t kGuest = 3;

Header from_guest(uint16_t op, uint32_t len = 0, uint32_t flags = 0) {
  Header h;
  h.src_cid = kGuest;
  h.dst_cid = kHostCid;
  h.src_port = 5000;
  h.dst_port = 1024;
  h.type = VIRTIO_VSOCK_TYPE_STREAM;
  h.op = op;
  h.len = len;
  h.flags = flags;
  h.buf_alloc = 64 * 1024;
  h.fwd_cnt = 0;
  return h;
}

Connection established() {
  auto c = Connection::accept_guest(kGuest, 1024, from_guest(VIRTIO_VSOCK_OP_REQUEST));
  auto resp = c.next_control();
  EXPECT_TRUE(resp && resp->op == VIRTIO_VSOCK_OP_RESPONSE);
  return c;
}

TEST(VsockConnection, GuestHandshake) {
  auto c = Connection::accept_guest(kGuest, 1024, from_guest(VIRTIO_VSOCK_OP_REQUEST));
  EXPECT_EQ(c.state(), Connection::State::kEstablished);
  EXPECT_FALSE(c.wants_host_read());  // RESPONSE must go first
  auto h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_RESPONSE);
  EXPECT_EQ(h->src_cid, kHostCid);
  EXPECT_EQ(h->dst_cid, kGuest);
  EXPECT_EQ(h->src_port, 1024u);
  EXPECT_EQ(h->dst_port, 5000u);
  EXPECT_EQ(h->buf_alloc, kBufAlloc);
  EXPECT_FALSE(c.next_control());
  EXPECT_TRUE(c.wants_host_read());
  EXPECT_EQ(c.peer_credit(), 64u * 1024);
}

TEST(VsockConnection, HostHandshake) {
  auto c = Connection::connect_host(kGuest, 1u << 30, 52);
  EXPECT_EQ(c.state(), Connection::State::kConnecting);
  auto req = c.next_control();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->op, VIRTIO_VSOCK_OP_REQUEST);
  EXPECT_EQ(req->dst_port, 52u);
  EXPECT_FALSE(c.wants_host_read());
  Header resp = from_guest(VIRTIO_VSOCK_OP_RESPONSE);
  EXPECT_EQ(c.on_packet(resp), Connection::Action::kEstablished);
  EXPECT_EQ(c.state(), Connection::State::kEstablished);
  EXPECT_TRUE(c.wants_host_read());
}

TEST(VsockConnection, HostHandshakeRefused) {
  auto c = Connection::connect_host(kGuest, 1u << 30, 52);
  (void)c.next_control();
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RST)), Connection::Action::kClose);
  EXPECT_EQ(c.state(), Connection::State::kClosed);
  EXPECT_FALSE(c.next_control());  // never answer a reset
}

TEST(VsockConnection, DataBeforeResponseResets) {
  auto c = Connection::connect_host(kGuest, 1u << 30, 52);
  (void)c.next_control();
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, 10)), Connection::Action::kNone);
  auto h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_RST);
  EXPECT_EQ(c.state(), Connection::State::kClosed);
}

TEST(VsockConnection, GuestCreditAccounting) {
  auto c = established();
  // Fill the whole window without forwarding: allowed.
  for (uint32_t i = 0; i < kBufAlloc / (64 * 1024); ++i)
    EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, 64 * 1024)), Connection::Action::kForward);
  EXPECT_EQ(c.buffered(), kBufAlloc);
  EXPECT_FALSE(c.has_control());
  // Forwarding frees space; past the threshold a credit update is owed.
  c.on_forwarded(kCreditUpdateThreshold - 1);
  EXPECT_FALSE(c.has_control());
  c.on_forwarded(1);
  auto h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
  EXPECT_EQ(h->fwd_cnt, kCreditUpdateThreshold);
  EXPECT_EQ(c.buffered(), kBufAlloc - kCreditUpdateThreshold);
}

TEST(VsockConnection, OverrunResets) {
  auto c = established();
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, kBufAlloc - 10)),
            Connection::Action::kForward);
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, 11)), Connection::Action::kNone);
  EXPECT_FALSE(c.active());
  auto h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_RST);
  EXPECT_EQ(c.state(), Connection::State::kClosed);
}

TEST(VsockConnection, PeerCreditLimitsHostData) {
  auto c = established();
  EXPECT_EQ(c.peer_credit(), 64u * 1024);
  auto d = c.data_header(60 * 1024);
  EXPECT_EQ(d.op, VIRTIO_VSOCK_OP_RW);
  EXPECT_EQ(d.len, 60u * 1024);
  EXPECT_EQ(c.peer_credit(), 4u * 1024);
  (void)c.data_header(4 * 1024);
  EXPECT_EQ(c.peer_credit(), 0u);
  EXPECT_FALSE(c.wants_host_read());
  Header upd = from_guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE);
  upd.fwd_cnt = 16 * 1024;
  EXPECT_EQ(c.on_packet(upd), Connection::Action::kNone);
  EXPECT_EQ(c.peer_credit(), 16u * 1024);
  EXPECT_TRUE(c.wants_host_read());
  // A guest shrinking its buffer below what is in flight means no credit, not a wrap.
  upd.buf_alloc = 1024;
  (void)c.on_packet(upd);
  EXPECT_EQ(c.peer_credit(), 0u);
}

TEST(VsockConnection, CreditRequestAnswered) {
  auto c = established();
  (void)c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, 100));
  c.on_forwarded(100);
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_CREDIT_REQUEST)), Connection::Action::kNone);
  auto h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
  EXPECT_EQ(h->fwd_cnt, 100u);
  EXPECT_EQ(h->buf_alloc, kBufAlloc);
}

TEST(VsockConnection, GuestClosesBothWaysAfterFlush) {
  auto c = established();
  (void)c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, 100));
  (void)c.on_packet(from_guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0,
                               VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND));
  EXPECT_TRUE(c.closing());
  EXPECT_FALSE(c.wants_host_read());
  EXPECT_FALSE(c.take_shut_host_write());  // 100 bytes still to flush
  EXPECT_FALSE(c.has_control());
  c.on_forwarded(100);
  EXPECT_TRUE(c.take_shut_host_write() || !c.active());
  auto h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_RST);
  EXPECT_EQ(c.state(), Connection::State::kClosed);
}

TEST(VsockConnection, HalfCloseThenHostEof) {
  auto c = established();
  (void)c.on_packet(from_guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_SEND));
  EXPECT_TRUE(c.take_shut_host_write());
  EXPECT_FALSE(c.take_shut_host_write());  // once
  EXPECT_TRUE(c.wants_host_read());        // the host may still answer
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, 1)), Connection::Action::kNone);
  // Data after SHUTDOWN(SEND) is a violation.
  auto h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_RST);
}

TEST(VsockConnection, HostEofSendsShutdownThenGuestFinishes) {
  auto c = established();
  c.on_host_eof();
  EXPECT_FALSE(c.wants_host_read());
  auto h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_SHUTDOWN);
  EXPECT_EQ(h->flags, static_cast<uint32_t>(VIRTIO_VSOCK_SHUTDOWN_SEND));
  EXPECT_EQ(c.state(), Connection::State::kEstablished);  // guest may still send
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, 5)), Connection::Action::kForward);
  c.on_forwarded(5);
  (void)c.on_packet(from_guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_SEND));
  h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_RST);
}

TEST(VsockConnection, GuestRstCloses) {
  auto c = established();
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RST)), Connection::Action::kClose);
  EXPECT_EQ(c.state(), Connection::State::kClosed);
}

TEST(VsockConnection, UnexpectedOpsReset) {
  for (uint16_t op : {uint16_t{VIRTIO_VSOCK_OP_REQUEST}, uint16_t{VIRTIO_VSOCK_OP_RESPONSE},
                      uint16_t{0}, uint16_t{99}}) {
    auto c = established();
    EXPECT_EQ(c.on_packet(from_guest(op)), Connection::Action::kNone);
    auto h = c.next_control();
    ASSERT_TRUE(h) << op;
    EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_RST) << op;
  }
}

TEST(VsockConnection, RstPreemptsOtherControl) {
  auto c = established();
  (void)c.on_packet(from_guest(VIRTIO_VSOCK_OP_CREDIT_REQUEST));
  c.on_host_eof();
  c.reset();
  auto h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_RST);
  EXPECT_FALSE(c.next_control());
}

TEST(VsockConnection, GracefulCloseSendsOwedShutdownBeforeRst) {
  auto c = established();
  (void)c.on_packet(from_guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_SEND));
  c.on_host_eof();  // both directions done
  EXPECT_FALSE(c.active());
  auto h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_SHUTDOWN);
  h = c.next_control();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->op, VIRTIO_VSOCK_OP_RST);
  EXPECT_EQ(c.state(), Connection::State::kClosed);
}

// Data the guest sent before its RST is still the host's (as Linux keeps a
// reset socket's data readable): delivering() until all of it was written,
// with nothing more owed to the guest (no credit update, no RST).
TEST(VsockConnection, GuestRstKeepsWhatTheHostHasNotTaken) {
  auto c = established();
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, 2 * kCreditUpdateThreshold)),
            Connection::Action::kForward);
  c.on_forwarded(1000);
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RST)), Connection::Action::kClose);
  EXPECT_EQ(c.state(), Connection::State::kClosed);
  EXPECT_TRUE(c.delivering());
  EXPECT_FALSE(c.active());
  c.on_forwarded(kCreditUpdateThreshold);
  EXPECT_TRUE(c.delivering());
  EXPECT_FALSE(c.has_control());
  c.on_forwarded(kCreditUpdateThreshold - 1000);
  EXPECT_FALSE(c.delivering());
  EXPECT_FALSE(c.has_control());
}

// A host reader that failed or took nothing in time: the rest is dropped.
TEST(VsockConnection, ResetDropsWhatAGuestRstLeft) {
  auto c = established();
  (void)c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, 1000));
  (void)c.on_packet(from_guest(VIRTIO_VSOCK_OP_RST));
  EXPECT_TRUE(c.delivering());
  c.reset();
  EXPECT_FALSE(c.delivering());
  EXPECT_FALSE(c.has_control());
}

// Our own RST sent: the guest's answer leaves nothing to deliver.
TEST(VsockConnection, OurResetLeavesNothingToDeliver) {
  auto c = established();
  (void)c.on_packet(from_guest(VIRTIO_VSOCK_OP_RW, 1000));
  c.reset();
  EXPECT_EQ(c.on_packet(from_guest(VIRTIO_VSOCK_OP_RST)), Connection::Action::kClose);
  EXPECT_FALSE(c.delivering());
}

}  // namespace
}  // namespace runvm::vsock
