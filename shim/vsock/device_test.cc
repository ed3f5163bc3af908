#include "shim/vsock/device.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "shim/vsock/fake_vring_test_util.h"
#include "shim/vsock/unix_socket.h"
#include "spec/base/unix_socket.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

using testing::FakeVsockGuest;
using testing::VsockPacket;
using vsock::Header;

constexpr uint32_t kGuestPort = 5000;

std::string pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed + (i >> 9)) & 0xff);
  return s;
}

UniqueFd connect_client(const std::string& path) {
  auto fd = connect_unix(path);
  EXPECT_TRUE(fd.ok()) << fd.error().message;
  return fd.ok() ? std::move(*fd) : UniqueFd();
}

UniqueFd accept_now(int lfd) {
  pollfd p{lfd, POLLIN, 0};
  if (::poll(&p, 1, 1000) != 1) return {};
  return UniqueFd(::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

// Nonblocking read of whatever is there; returns false on EOF.
bool drain(int fd, std::string& out, size_t max = SIZE_MAX) {
  char buf[8192];
  while (max > 0) {
    ssize_t n = ::recv(fd, buf, std::min(sizeof buf, max), MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) return true;
    out.append(buf, static_cast<size_t>(n));
    max -= static_cast<size_t>(n);
  }
  return true;
}

class VsockDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override { loop_ = EventLoop::create().value(); }
  void TearDown() override {
    guest_.reset();
    dev_.reset();
  }
  void make_device(uint32_t guest_buf_alloc = 256 * 1024, size_t rx_bufs = 32,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5),
                   std::chrono::milliseconds closing_cap = std::chrono::minutes(5)) {
    auto dev = VsockDevice::create(*loop_, VsockConfig{3, uds_, timeout, closing_cap});
    ASSERT_TRUE(dev.ok()) << dev.error().message;
    dev_ = std::move(*dev);
    guest_ = std::make_unique<FakeVsockGuest>(*dev_);
    guest_->buf_alloc = guest_buf_alloc;
    guest_->start();
    guest_->post_rx(rx_bufs);
  }
  // Moves completed rx packets into rx_, reposting their buffers; tracks
  // the device's credit as a driver would.
  void collect(bool repost = true) {
    auto pkts = guest_->take_rx();
    for (auto& p : pkts) {
      dev_buf_alloc_ = p.hdr.buf_alloc;
      dev_fwd_cnt_ = p.hdr.fwd_cnt;
      rx_.push_back(std::move(p));
    }
    ASSERT_FALSE(guest_->bad_rx());
    if (repost && !pkts.empty()) guest_->post_rx(pkts.size());
  }
  bool run_until(const std::function<bool()>& pred, int ms = 3000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (true) {
      collect();
      if (pred()) return true;
      if (std::chrono::steady_clock::now() > end) return false;
      EXPECT_TRUE(loop_->run_once(10).ok());
    }
  }
  std::string rx_payload(uint32_t local_port) {
    std::string s;
    for (auto& p : rx_)
      if (p.hdr.op == VIRTIO_VSOCK_OP_RW && p.hdr.src_port == local_port) s += p.payload;
    return s;
  }
  bool got_op(uint16_t op, uint32_t src_port) {
    for (auto& p : rx_)
      if (p.hdr.op == op && p.hdr.src_port == src_port) return true;
    return false;
  }
  // Guest connects to host port `port`; returns true once RESPONSE came back.
  bool guest_connect(uint32_t port) {
    guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_REQUEST, kGuestPort, port));
    return run_until([&] { return got_op(VIRTIO_VSOCK_OP_RESPONSE, port); }, 1000);
  }
  // A host listener on port 1024, the device, and the guest connected to
  // it; returns the host's end (invalid, with the failure recorded, if any
  // step failed).
  UniqueFd connect_to_host(uint32_t guest_buf_alloc = 256 * 1024,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5),
                           std::chrono::milliseconds closing_cap = std::chrono::minutes(5)) {
    auto lfd = listen_unix(uds_ + "_1024", vsock::kListenOptions);
    if (!lfd.ok()) {
      ADD_FAILURE() << lfd.error().message;
      return {};
    }
    make_device(guest_buf_alloc, 32, timeout, closing_cap);
    if (!guest_connect(1024)) {
      ADD_FAILURE() << "no RESPONSE to the guest's REQUEST";
      return {};
    }
    return accept_now(lfd->get());
  }
  uint32_t device_credit(uint32_t sent) const { return dev_buf_alloc_ - (sent - dev_fwd_cnt_); }
  // The connected guest sends all the credit the device gives (more than
  // the host socket holds: the rest waits in the device) in 32 KiB chunks
  // and closes both directions; returns what it sent.
  std::string send_all_credit_then_close() {
    std::string data;
    uint32_t sent = 0;
    for (uint8_t seed = 1; device_credit(sent) >= 32 * 1024; ++seed) {
      std::string chunk = pattern(32 * 1024, seed);
      if (!guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RW, kGuestPort, 1024, chunk.size()), chunk)) {
        ADD_FAILURE() << "the tx queue took no packet";
        return data;
      }
      sent += chunk.size();
      data += chunk;
      collect();
    }
    Header shut = guest_->hdr(VIRTIO_VSOCK_OP_SHUTDOWN, kGuestPort, 1024);
    shut.flags = VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV;
    guest_->send(shut);
    collect();
    return data;
  }

  // A slow host reader: 8 KiB, then 50 ms of the device's loop, until EOF
  // or 30 s; whether the socket is still open then.
  bool read_slowly(int fd, std::string& got) {
    auto start = std::chrono::steady_clock::now();
    bool open = true;
    while (open && std::chrono::steady_clock::now() - start < std::chrono::seconds(30)) {
      open = drain(fd, got, 8192);
      run_until([] { return false; }, 50);
    }
    return open;
  }

  std::unique_ptr<EventLoop> loop_;
  testing::TempDir dir_{"vsock-test"};
  const std::string uds_ = dir_ / "v.sock";
  std::unique_ptr<VsockDevice> dev_;
  std::unique_ptr<FakeVsockGuest> guest_;
  std::vector<VsockPacket> rx_;
  uint32_t dev_buf_alloc_ = 0, dev_fwd_cnt_ = 0;
};

TEST_F(VsockDeviceTest, FeaturesAndConfig) {
  make_device();
  EXPECT_TRUE(dev_->features() & (1ULL << 32));  // VIRTIO_F_VERSION_1
  EXPECT_EQ(dev_->num_queues(), 2u);
  EXPECT_EQ(dev_->config(), (std::vector<uint8_t>{3, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_FALSE(VsockDevice::create(*loop_, VsockConfig{2, ""}).ok());
}

TEST_F(VsockDeviceTest, GuestConnectsToHostSocketAndExchangesData) {
  auto lfd = listen_unix(uds_ + "_1024", vsock::kListenOptions);
  ASSERT_TRUE(lfd.ok());
  make_device();
  ASSERT_TRUE(guest_connect(1024));
  const VsockPacket& resp = rx_.back();
  EXPECT_EQ(resp.hdr.src_cid, 2u);
  EXPECT_EQ(resp.hdr.dst_cid, 3u);
  EXPECT_EQ(resp.hdr.dst_port, kGuestPort);
  EXPECT_EQ(resp.hdr.buf_alloc, vsock::kBufAlloc);
  UniqueFd host = accept_now(lfd->get());
  ASSERT_TRUE(host);

  // Header split across descriptors, mid-field.
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RW, kGuestPort, 1024, 5), "hello", 13);
  std::string got;
  ASSERT_TRUE(run_until([&] { return drain(host.get(), got), got == "hello"; }));

  ASSERT_EQ(::write(host.get(), "world", 5), 5);
  ASSERT_TRUE(run_until([&] { return rx_payload(1024) == "world"; }));
  EXPECT_EQ(dev_->connection_count(), 1u);
}

TEST_F(VsockDeviceTest, GuestToHostBeyondCreditIsByteExact) {
  UniqueFd host = connect_to_host();
  ASSERT_TRUE(host);

  const std::string data = pattern(3 * 1024 * 1024 + 123, 7);
  size_t sent = 0;
  std::string got;
  bool host_reads = false;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.size() < data.size() && std::chrono::steady_clock::now() < end) {
    collect();
    uint32_t credit = device_credit(static_cast<uint32_t>(sent));
    size_t n = std::min<size_t>({data.size() - sent, credit, 48 * 1024});
    if (n > 0) {
      ASSERT_TRUE(guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RW, kGuestPort, 1024, n),
                               std::string_view(data).substr(sent, n), 100));
      sent += n;
      continue;
    }
    // Out of credit: the host has not read anything yet, so the device must
    // be holding a full window beyond what the socket took.
    host_reads = true;
    drain(host.get(), got, 100 * 1024);
    ASSERT_TRUE(loop_->run_once(5).ok());
  }
  EXPECT_TRUE(host_reads);
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  EXPECT_FALSE(got_op(VIRTIO_VSOCK_OP_RST, 1024));
  EXPECT_TRUE(got_op(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1024));
}

TEST_F(VsockDeviceTest, GuestOverrunningCreditIsReset) {
  UniqueFd host = connect_to_host();
  ASSERT_TRUE(host);
  std::string chunk = pattern(64 * 1024, 1);
  for (int i = 0; i < 64 && !got_op(VIRTIO_VSOCK_OP_RST, 1024); ++i) {
    guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RW, kGuestPort, 1024, chunk.size()), chunk);
    collect();
  }
  EXPECT_TRUE(got_op(VIRTIO_VSOCK_OP_RST, 1024));
  EXPECT_EQ(dev_->connection_count(), 0u);
  std::string sink;
  EXPECT_TRUE(run_until([&] { return !drain(host.get(), sink); }));  // host sees EOF
}

TEST_F(VsockDeviceTest, HostToGuestRespectsGuestCredit) {
  UniqueFd host = connect_to_host(16 * 1024);
  ASSERT_TRUE(host);

  const std::string data = pattern(100 * 1024 + 5, 3);
  ASSERT_EQ(::write(host.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_TRUE(run_until([&] { return rx_payload(1024).size() == 16 * 1024; }));
  // Nothing more without credit.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(loop_->run_once(10).ok());
  collect();
  EXPECT_EQ(rx_payload(1024).size(), 16u * 1024);

  while (rx_payload(1024).size() < data.size()) {
    uint32_t received = static_cast<uint32_t>(rx_payload(1024).size());
    ASSERT_LE(received - guest_->fwd_cnt, guest_->buf_alloc);
    guest_->fwd_cnt = received;  // the guest application consumed it all
    guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, kGuestPort, 1024));
    ASSERT_TRUE(run_until([&] { return rx_payload(1024).size() > received; }));
  }
  EXPECT_TRUE(rx_payload(1024) == data);
}

TEST_F(VsockDeviceTest, HostReadsWaitForRxBuffers) {
  auto lfd = listen_unix(uds_ + "_1024", vsock::kListenOptions);
  ASSERT_TRUE(lfd.ok());
  make_device(256 * 1024, /*rx_bufs=*/1);
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_REQUEST, kGuestPort, 1024));
  collect(/*repost=*/false);
  ASSERT_TRUE(got_op(VIRTIO_VSOCK_OP_RESPONSE, 1024));
  UniqueFd host = accept_now(lfd->get());
  ASSERT_TRUE(host);
  ASSERT_EQ(::write(host.get(), "abc", 3), 3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(loop_->run_once(10).ok());
  collect(false);
  EXPECT_EQ(rx_payload(1024), "");
  guest_->post_rx(4);
  ASSERT_TRUE(run_until([&] { return rx_payload(1024) == "abc"; }));
}

TEST_F(VsockDeviceTest, HostClientConnectHandshake) {
  make_device();
  UniqueFd client = connect_client(uds_);
  ASSERT_TRUE(client);
  // Data right behind the line must reach the guest, not be eaten by the parser.
  std::string hello = "CONNECT 52\nearly";
  ASSERT_EQ(::write(client.get(), hello.data(), hello.size()), 16);
  ASSERT_TRUE(
      run_until([&] { return !rx_.empty() && rx_.back().hdr.op == VIRTIO_VSOCK_OP_REQUEST; }));
  Header req = rx_.back().hdr;
  EXPECT_EQ(req.dst_port, 52u);
  EXPECT_EQ(req.dst_cid, 3u);
  EXPECT_GE(req.src_port, 1u << 30);
  uint32_t local = req.src_port;

  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RESPONSE, 52, local));
  std::string got;
  std::string ok = "OK " + std::to_string(local) + "\n";
  ASSERT_TRUE(run_until([&] { return drain(client.get(), got), got == ok; }));
  ASSERT_TRUE(run_until([&] { return rx_payload(local) == "early"; }));
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RW, 52, local, 4), "pong");
  got.clear();
  ASSERT_TRUE(run_until([&] { return drain(client.get(), got), got == "pong"; }));
}

TEST_F(VsockDeviceTest, HostClientRefusedByGuest) {
  make_device();
  UniqueFd client = connect_client(uds_);
  ASSERT_TRUE(client);
  ASSERT_EQ(::write(client.get(), "CONNECT 9\n", 10), 10);
  ASSERT_TRUE(run_until([&] { return !rx_.empty(); }));
  Header req = rx_.back().hdr;
  ASSERT_EQ(req.op, VIRTIO_VSOCK_OP_REQUEST);
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RST, 9, req.src_port));
  EXPECT_EQ(dev_->connection_count(), 0u);
  std::string got;
  EXPECT_TRUE(run_until([&] { return !drain(client.get(), got); }));
  EXPECT_EQ(got, "");
}

TEST_F(VsockDeviceTest, BadConnectLineClosesClient) {
  make_device();
  UniqueFd client = connect_client(uds_);
  ASSERT_TRUE(client);
  ASSERT_EQ(::write(client.get(), "HELLO 9\n", 8), 8);
  std::string got;
  EXPECT_TRUE(run_until([&] { return !drain(client.get(), got); }));
  EXPECT_TRUE(rx_.empty());
}

TEST_F(VsockDeviceTest, UnknownPortsAndStrayPacketsGetRst) {
  make_device();
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_REQUEST, kGuestPort, 999));
  collect();
  ASSERT_EQ(rx_.size(), 1u);
  EXPECT_EQ(rx_[0].hdr.op, VIRTIO_VSOCK_OP_RST);
  EXPECT_EQ(rx_[0].hdr.src_port, 999u);
  EXPECT_EQ(rx_[0].hdr.dst_port, kGuestPort);
  EXPECT_EQ(rx_[0].hdr.dst_cid, 3u);

  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RW, kGuestPort, 998, 3), "abc");
  collect();
  ASSERT_EQ(rx_.size(), 2u);
  EXPECT_EQ(rx_[1].hdr.op, VIRTIO_VSOCK_OP_RST);

  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RST, kGuestPort, 998));  // never answered
  Header spoofed = guest_->hdr(VIRTIO_VSOCK_OP_REQUEST, kGuestPort, 999);
  spoofed.src_cid = 7;  // not the guest's cid: dropped
  guest_->send(spoofed);
  Header seq = guest_->hdr(VIRTIO_VSOCK_OP_REQUEST, kGuestPort, 999);
  seq.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
  guest_->send(seq);
  collect();
  ASSERT_EQ(rx_.size(), 3u);
  EXPECT_EQ(rx_[2].hdr.op, VIRTIO_VSOCK_OP_RST);
  EXPECT_EQ(dev_->connection_count(), 0u);
}

TEST_F(VsockDeviceTest, MalformedChainsAreDropped) {
  make_device();
  guest_->send_raw("short");
  Header liar = guest_->hdr(VIRTIO_VSOCK_OP_REQUEST, kGuestPort, 999, 1000);  // no payload
  guest_->send(liar, "x");
  collect();
  EXPECT_TRUE(rx_.empty());
  EXPECT_EQ(guest_->reap_tx(), 0u);  // all consumed
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_REQUEST, kGuestPort, 999));
  collect();
  ASSERT_EQ(rx_.size(), 1u);  // the device still works
}

TEST_F(VsockDeviceTest, PortHandlerServesInProcess) {
  UniqueFd ours;
  make_device();
  int calls = 0;
  dev_->set_port_handler(77, [&]() -> Result<UniqueFd> {
    ++calls;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return errno_error("sp");
    ours.reset(sv[1]);
    return UniqueFd(sv[0]);
  });
  ASSERT_TRUE(guest_connect(77));
  EXPECT_EQ(calls, 1);
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RW, kGuestPort, 77, 4), "ping");
  std::string got;
  ASSERT_TRUE(run_until([&] { return drain(ours.get(), got), got == "ping"; }));
  ASSERT_EQ(::write(ours.get(), "pong", 4), 4);
  ASSERT_TRUE(run_until([&] { return rx_payload(77) == "pong"; }));
}

TEST_F(VsockDeviceTest, HalfClosesThenRst) {
  UniqueFd host = connect_to_host();
  ASSERT_TRUE(host);
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RW, kGuestPort, 1024, 3), "req");
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_SHUTDOWN, kGuestPort, 1024));
  Header shut = guest_->hdr(VIRTIO_VSOCK_OP_SHUTDOWN, kGuestPort, 1024);
  shut.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
  guest_->send(shut);
  std::string got;
  ASSERT_TRUE(run_until([&] { return !drain(host.get(), got); }));  // EOF after the data
  EXPECT_EQ(got, "req");
  EXPECT_EQ(dev_->connection_count(), 1u);  // the host may still answer

  ASSERT_EQ(::write(host.get(), "resp", 4), 4);
  host.reset();
  ASSERT_TRUE(run_until([&] { return got_op(VIRTIO_VSOCK_OP_RST, 1024); }));
  EXPECT_EQ(rx_payload(1024), "resp");
  ASSERT_GE(rx_.size(), 3u);
  EXPECT_EQ(rx_[rx_.size() - 2].hdr.op, VIRTIO_VSOCK_OP_SHUTDOWN);
  EXPECT_EQ(rx_[rx_.size() - 2].hdr.flags, static_cast<uint32_t>(VIRTIO_VSOCK_SHUTDOWN_SEND));
  EXPECT_EQ(dev_->connection_count(), 0u);
}

TEST_F(VsockDeviceTest, GuestFullCloseIsAnsweredWithRst) {
  UniqueFd host = connect_to_host();
  ASSERT_TRUE(host);
  Header shut = guest_->hdr(VIRTIO_VSOCK_OP_SHUTDOWN, kGuestPort, 1024);
  shut.flags = VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV;
  guest_->send(shut);
  collect();
  EXPECT_TRUE(got_op(VIRTIO_VSOCK_OP_RST, 1024));
  EXPECT_EQ(dev_->connection_count(), 0u);
  std::string got;
  EXPECT_TRUE(run_until([&] { return !drain(host.get(), got); }));
}

TEST_F(VsockDeviceTest, UnansweredHostConnectTimesOut) {
  make_device(256 * 1024, 32, std::chrono::milliseconds(40));
  UniqueFd client = connect_client(uds_);
  ASSERT_TRUE(client);
  ASSERT_EQ(::write(client.get(), "CONNECT 52\n", 11), 11);
  ASSERT_TRUE(run_until([&] { return !rx_.empty(); }));
  uint32_t local = rx_.back().hdr.src_port;
  ASSERT_EQ(rx_.back().hdr.op, VIRTIO_VSOCK_OP_REQUEST);
  std::string got;
  ASSERT_TRUE(run_until([&] { return !drain(client.get(), got); }));  // closed
  EXPECT_TRUE(got_op(VIRTIO_VSOCK_OP_RST, local));  // the guest is told to forget it
  EXPECT_EQ(dev_->connection_count(), 0u);
}

TEST_F(VsockDeviceTest, SilentHostClientIsDropped) {
  make_device(256 * 1024, 32, std::chrono::milliseconds(40));
  UniqueFd client = connect_client(uds_);
  ASSERT_TRUE(client);
  ASSERT_EQ(::write(client.get(), "CONN", 4), 4);
  std::string got;
  EXPECT_TRUE(run_until([&] { return !drain(client.get(), got); }));
  EXPECT_TRUE(rx_.empty());
}

TEST_F(VsockDeviceTest, ClosedConnectionStuckOnHostIsKilled) {
  UniqueFd host = connect_to_host(256 * 1024, std::chrono::milliseconds(40));
  ASSERT_TRUE(host);
  // Fills the socket and the device's buffer; the host never reads.
  send_all_credit_then_close();
  EXPECT_EQ(dev_->connection_count(), 1u);  // still flushing
  ASSERT_TRUE(run_until([&] { return got_op(VIRTIO_VSOCK_OP_RST, 1024); }));
  EXPECT_EQ(dev_->connection_count(), 0u);
}

// A host reader that keeps taking a closed connection's last data, however
// slowly, is not cut off at the timeout: each deadline finds it further
// (its socket's unread bytes fewer, or more written to it), and the
// connection ends with every byte delivered, no RST.
TEST_F(VsockDeviceTest, ClosedConnectionReadSlowlyOutlivesTheTimeout) {
  UniqueFd host = connect_to_host(256 * 1024, std::chrono::milliseconds(1000));
  ASSERT_TRUE(host);
  std::string data = send_all_credit_then_close();
  // 8 KiB every 50 ms (~160 KB/s): the whole (the socket's buffer and the
  // device's queue) takes about three timeouts. The socket's unread bytes
  // fall as whole packets of it are read (up to 64 KiB each), well within
  // each timeout.
  std::string got;
  auto start = std::chrono::steady_clock::now();
  bool open = read_slowly(host.get(), got);
  EXPECT_FALSE(open) << "no EOF after everything";
  EXPECT_GT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

// However it progresses, a closed connection's host reader is cut off
// closing_cap after the guest closed it: the reader of the test above,
// which takes about three timeouts for the whole, gets a part of it and
// then its socket closed, well before it would have read everything.
TEST_F(VsockDeviceTest, ClosedConnectionReadSlowlyIsCutAtTheCap) {
  UniqueFd host =
      connect_to_host(256 * 1024, std::chrono::milliseconds(1000), std::chrono::milliseconds(1200));
  ASSERT_TRUE(host);
  std::string data = send_all_credit_then_close();
  std::string got;
  bool open = read_slowly(host.get(), got);
  EXPECT_FALSE(open);
  EXPECT_GT(got.size(), 0u);
  EXPECT_LT(got.size(), data.size());
  EXPECT_TRUE(data.compare(0, got.size(), got) == 0);  // what it got is exact
  EXPECT_EQ(dev_->connection_count(), 0u);
}

// The guest's kernel resets a connection it closed once we did not answer
// for 8 s (Linux's VSOCK_CLOSE_TIMEOUT): with a slow host reader, the
// device still held its last data then. What the guest sent before its
// RST is still the host's, as a Linux vsock socket keeps a reset
// connection's received data readable: all of it is delivered, then EOF;
// the RST is not answered. (The device dropped it: a container's output
// read at ~16 KB/s lost its last 93599 of 588895 bytes.)
TEST_F(VsockDeviceTest, GuestResetWhileTheHostReadsStillDeliversAll) {
  UniqueFd host = connect_to_host();
  ASSERT_TRUE(host);
  std::string data = send_all_credit_then_close();
  // The host socket did not take it all: the device holds the rest.
  ASSERT_FALSE(got_op(VIRTIO_VSOCK_OP_RST, 1024));
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RST, kGuestPort, 1024));
  collect();
  std::string got;
  ASSERT_TRUE(run_until([&] { return !drain(host.get(), got); }));  // EOF after all of it
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  EXPECT_EQ(dev_->connection_count(), 0u);
  EXPECT_FALSE(got_op(VIRTIO_VSOCK_OP_RST, 1024));
}

// Meanwhile a new connection of the same ports is refused (RST); and a
// host reader that takes nothing is given up on at the timeout, as for a
// closed connection, with nothing owed to the guest.
TEST_F(VsockDeviceTest, GuestResetConnectionStuckOnHostIsDropped) {
  UniqueFd host = connect_to_host(256 * 1024, std::chrono::milliseconds(40));
  ASSERT_TRUE(host);
  send_all_credit_then_close();
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_RST, kGuestPort, 1024));
  collect();
  EXPECT_EQ(dev_->connection_count(), 1u);  // still delivering
  size_t before = rx_.size();
  guest_->send(guest_->hdr(VIRTIO_VSOCK_OP_REQUEST, kGuestPort, 1024));
  collect();
  ASSERT_EQ(rx_.size(), before + 1);
  EXPECT_EQ(rx_.back().hdr.op, VIRTIO_VSOCK_OP_RST);
  ASSERT_TRUE(run_until([&] { return dev_->connection_count() == 0; }));
  std::string got;
  EXPECT_TRUE(run_until([&] { return !drain(host.get(), got); }));  // closed
}

TEST_F(VsockDeviceTest, UdsPathUnlinkedOnDestruction) {
  make_device();
  EXPECT_TRUE(std::filesystem::exists(uds_));
  guest_.reset();
  dev_.reset();
  EXPECT_FALSE(std::filesystem::exists(uds_));
}

}  // namespace
}  // namespace runvm
