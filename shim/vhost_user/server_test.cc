#include "shim/vhost_user/server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "shim/vhost_user/test_support.h"
#include "spec/base/unix_socket.h"
#include "tests/support/temp_dir.h"

namespace runvm::vhost_user {
namespace {

using testing::FakeDevice;
using testing::GuestRam;

// A front-end speaking the real wire protocol over a blocking socket.
class Client {
 public:
  explicit Client(const std::string& path) {
    auto fd = connect_unix(path);
    connected_ = fd.ok();
    if (connected_) fd_ = std::move(*fd);
  }
  bool connected() const { return connected_; }
  int fd() const { return fd_.get(); }

  void send_raw(const std::vector<uint8_t>& bytes, const std::vector<int>& fds = {}) {
    iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * 8)];
    if (!fds.empty()) {
      mh.msg_control = ctrl;
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ASSERT_EQ(sendmsg(fd_.get(), &mh, MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
  void send(uint32_t req, Payload p = {}, uint32_t flags = kVersion) {
    Message m;
    m.header = Header{req, flags, 0};
    m.payload = std::move(p);
    Encoded e = encode(m);
    send_raw(e.bytes, e.fds);
  }
  // Waits up to `ms` for a reply; nullopt on timeout or EOF.
  std::optional<Reply> reply(int ms = 5000) {
    std::vector<uint8_t> b(kHeaderSize);
    if (!read_exact(b.data(), kHeaderSize, ms)) return std::nullopt;
    uint32_t size;
    std::memcpy(&size, b.data() + 8, 4);
    b.resize(kHeaderSize + size);
    if (size && !read_exact(b.data() + kHeaderSize, size, ms)) return std::nullopt;
    auto r = parse_reply(b);
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::optional(std::move(*r)) : std::nullopt;
  }
  uint64_t reply_u64() {
    auto r = reply();
    uint64_t v = ~0ull;
    if (r && r->payload.size() == 8) std::memcpy(&v, r->payload.data(), 8);
    return v;
  }
  // True when the server closed the connection within `ms`.
  bool sees_eof(int ms = 5000) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (poll(&p, 1, ms) != 1) return false;
    char c;
    return recv(fd_.get(), &c, 1, 0) == 0;
  }
  void close() { fd_.reset(); }

 private:
  bool read_exact(uint8_t* out, size_t n, int ms) {
    size_t got = 0;
    while (got < n) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (poll(&p, 1, ms) != 1) return false;
      ssize_t r = recv(fd_.get(), out + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }
  UniqueFd fd_;
  bool connected_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(EventLoop::create().value());
    auto s = VhostUserServer::listen(*loop_, path_, dev_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(*s);
    server_->set_on_disconnect([this] { disconnects_++; });
    server_->set_on_error([this](const Error&) { errors_++; });
    thread_ = std::thread([this] { (void)loop_->run(); });
  }
  void TearDown() override {
    stop_loop();
    server_.reset();
  }
  void stop_loop() {
    if (!thread_.joinable()) return;
    loop_->stop();
    thread_.join();
  }
  template <class F>
  bool wait_for(F cond, int ms = 5000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  FakeDevice dev_;
  GuestRam ram_;
  runvm::testing::TempDir dir_{"vhost-user-test"};
  const std::string path_ = dir_ / "dev.sock";
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<VhostUserServer> server_;
  std::thread thread_;
  std::atomic<int> disconnects_{0}, errors_{0};
};

TEST_F(ServerTest, NegotiatesAndRunsQueueOverTheWire) {
  Client c(path_);
  ASSERT_TRUE(c.connected());
  c.send(kGetFeatures);
  uint64_t features = c.reply_u64();
  EXPECT_TRUE(features & kFeatureProtocolFeatures);
  c.send(kGetProtocolFeatures);
  EXPECT_EQ(c.reply_u64(), VhostUserBackend::kProtocolFeatures);
  c.send(kSetProtocolFeatures, uint64_t{kProtocolReplyAck | kProtocolConfig},
         kVersion | kNeedReplyFlag);
  EXPECT_EQ(c.reply_u64(), 0u);
  c.send(kSetOwner);
  c.send(kGetConfig, ConfigSpace{0, 0, std::vector<uint8_t>(8)});
  auto cfg = c.reply();
  ASSERT_TRUE(cfg.has_value());
  ASSERT_EQ(cfg->payload.size(), 20u);
  EXPECT_EQ(cfg->payload[12], 3);
  c.send(kSetFeatures, features);
  c.send(kSetMemTable, ram_.table(), kVersion | kNeedReplyFlag);  // 2 fds via SCM_RIGHTS
  EXPECT_EQ(c.reply_u64(), 0u);

  auto kick = testing::make_eventfd();
  auto call = testing::make_eventfd();
  c.send(kSetVringNum, VringState{0, GuestRam::kQueueSize});
  c.send(kSetVringBase, VringState{0, 0});
  c.send(kSetVringAddr, GuestRam::addr(0));
  c.send(kSetVringKick, VringFd{0, testing::dup_fd(kick.get())});
  c.send(kSetVringCall, VringFd{0, testing::dup_fd(call.get())});
  c.send(kSetVringEnable, VringState{0, 1}, kVersion | kNeedReplyFlag);
  EXPECT_EQ(c.reply_u64(), 0u);

  ram_.post(0, 6, 24);
  testing::signal(kick.get());
  ASSERT_TRUE(wait_for([&] { return ram_.used_idx(0) == 1; }));
  EXPECT_EQ(ram_.used_elem(0, 0).id, 6u);

  c.send(kGetVringBase, VringState{0, 0});
  auto base = c.reply();
  ASSERT_TRUE(base.has_value());
  ASSERT_EQ(base->payload.size(), 8u);
  uint32_t num;
  std::memcpy(&num, base->payload.data() + 4, 4);
  EXPECT_EQ(num, 1u);

  // A failed request is refused, not fatal.
  c.send(kSetConfig, ConfigSpace{0, 0, std::vector<uint8_t>(4)}, kVersion | kNeedReplyFlag);
  EXPECT_NE(c.reply_u64(), 0u);
  c.send(kGetConfig, ConfigSpace{6, 0, std::vector<uint8_t>(8)});  // out of bounds
  auto empty = c.reply();
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->payload.empty());
  c.send(kGetQueueNum);
  EXPECT_EQ(c.reply_u64(), 2u);
  EXPECT_EQ(errors_, 2);

  c.close();
  ASSERT_TRUE(wait_for([&] { return disconnects_ == 1; }));
  stop_loop();
  EXPECT_EQ(dev_.count("started 0"), 1u);
  EXPECT_EQ(dev_.count("kicked 0"), 1u);
  EXPECT_EQ(dev_.count("stopped 0"), 1u);
}

TEST_F(ServerTest, ReassemblesPartialMessages) {
  Client c(path_);
  ASSERT_TRUE(c.connected());
  Message m;
  m.header = Header{kSetFeatures, kVersion | kNeedReplyFlag, 0};
  m.payload = uint64_t{1ull << 32};
  auto bytes = encode(m).bytes;
  for (size_t i = 0; i < bytes.size(); i += 5) {
    c.send_raw(
        std::vector<uint8_t>(bytes.begin() + i, bytes.begin() + std::min(i + 5, bytes.size())));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(c.reply_u64(), 0u);
  c.send(kGetFeatures);
  EXPECT_NE(c.reply_u64(), ~0ull);
  stop_loop();
  EXPECT_EQ(dev_.acked, 1ull << 32);
}

TEST_F(ServerTest, MalformedHeaderClosesConnectionAndAcceptsNext) {
  Client c(path_);
  ASSERT_TRUE(c.connected());
  std::vector<uint8_t> bad(kHeaderSize, 0);  // version 0
  c.send_raw(bad);
  EXPECT_TRUE(c.sees_eof());
  ASSERT_TRUE(wait_for([&] { return disconnects_ == 1; }));
  EXPECT_GE(errors_, 1);

  Client d(path_);
  ASSERT_TRUE(d.connected());
  d.send(kGetQueueNum);
  EXPECT_EQ(d.reply_u64(), 2u);
}

TEST_F(ServerTest, OversizedPayloadClosesConnection) {
  Client c(path_);
  std::vector<uint8_t> h(kHeaderSize);
  uint32_t req = kSetFeatures, flags = kVersion, size = kMaxPayloadSize + 1;
  std::memcpy(h.data(), &req, 4);
  std::memcpy(h.data() + 4, &flags, 4);
  std::memcpy(h.data() + 8, &size, 4);
  c.send_raw(h);
  EXPECT_TRUE(c.sees_eof());
}

TEST_F(ServerTest, FdsOnWrongRequestAreRefused) {
  Client c(path_);
  auto efd = testing::make_eventfd();
  Message m;
  m.header = Header{kSetOwner, kVersion | kNeedReplyFlag, 0};
  auto e = encode(m);
  c.send_raw(e.bytes, {efd.get()});
  EXPECT_NE(c.reply_u64(), 0u);
  c.send(kGetQueueNum);
  EXPECT_EQ(c.reply_u64(), 2u);  // still in sync
}

TEST_F(ServerTest, OneFrontEndAtATime) {
  Client a(path_);
  a.send(kGetQueueNum);
  EXPECT_EQ(a.reply_u64(), 2u);
  Client b(path_);  // queued in the backlog
  ASSERT_TRUE(b.connected());
  b.send(kGetQueueNum);
  EXPECT_FALSE(b.reply(200).has_value());
  a.close();
  EXPECT_EQ(b.reply_u64(), 2u);
}

TEST_F(ServerTest, SocketPathLifecycle) {
  stop_loop();
  auto again = VhostUserServer::listen(*loop_, path_, dev_);
  EXPECT_FALSE(again.ok());  // in use
  EXPECT_EQ(access(path_.c_str(), F_OK), 0);
  server_.reset();
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
  EXPECT_FALSE(VhostUserServer::listen(*loop_, std::string(200, 'x'), dev_).ok());
}

}  // namespace
}  // namespace runvm::vhost_user
