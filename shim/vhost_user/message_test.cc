#include "shim/vhost_user/message.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include <cstring>

namespace runvm::vhost_user {
namespace {

std::vector<uint8_t> header_bytes(uint32_t req, uint32_t flags, uint32_t size) {
  std::vector<uint8_t> b(kHeaderSize);
  std::memcpy(b.data(), &req, 4);
  std::memcpy(b.data() + 4, &flags, 4);
  std::memcpy(b.data() + 8, &size, 4);
  return b;
}

template <class T>
void append(std::vector<uint8_t>& b, T v) {
  auto* p = reinterpret_cast<const uint8_t*>(&v);
  b.insert(b.end(), p, p + sizeof v);
}

UniqueFd make_fd() { return UniqueFd(eventfd(0, EFD_CLOEXEC)); }

bool fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

// Parses `payload` as request `req` with `fds`.
Result<Message> parse(uint32_t req, const std::vector<uint8_t>& payload,
                      std::vector<UniqueFd> fds = {}, uint32_t flags = kVersion) {
  Header h{req, flags, static_cast<uint32_t>(payload.size())};
  return parse_message(h, payload, std::move(fds));
}

// encode(parse(x)) == x, fds passed through in order.
Message round_trip(const Message& m) {
  Encoded e = encode(m);
  auto h = parse_header(e.bytes);
  EXPECT_TRUE(h.ok()) << h.error().message;
  std::vector<UniqueFd> fds;
  for (int fd : e.fds) fds.emplace_back(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  auto back = parse_message(*h, std::span(e.bytes).subspan(kHeaderSize), std::move(fds));
  EXPECT_TRUE(back.ok()) << back.error().message;
  Encoded e2 = encode(*back);
  EXPECT_EQ(e.bytes, e2.bytes);
  EXPECT_EQ(e.fds.size(), e2.fds.size());
  return std::move(back).value();
}

TEST(VhostUserHeader, ParsesValid) {
  auto h = parse_header(header_bytes(kGetFeatures, kVersion | kNeedReplyFlag, 0));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->request, kGetFeatures);
  EXPECT_TRUE(h->need_reply());
  EXPECT_EQ(h->size, 0u);
}

TEST(VhostUserHeader, RejectsBadHeaders) {
  EXPECT_FALSE(parse_header(std::vector<uint8_t>(11)).ok());
  EXPECT_FALSE(parse_header(header_bytes(1, 0, 0)).ok());                      // version 0
  EXPECT_FALSE(parse_header(header_bytes(1, 2, 0)).ok());                      // version 2
  EXPECT_FALSE(parse_header(header_bytes(1, kVersion | kReplyFlag, 0)).ok());  // a reply
  EXPECT_FALSE(parse_header(header_bytes(1, kVersion, kMaxPayloadSize + 1)).ok());
  EXPECT_TRUE(parse_header(header_bytes(1, kVersion, kMaxPayloadSize)).ok());
}

TEST(VhostUserMessage, U64RoundTrip) {
  std::vector<uint8_t> p;
  append<uint64_t>(p, 0x1234'5678'9abc'def0);
  auto m = parse(kSetFeatures, p);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(std::get<uint64_t>(m->payload), 0x1234'5678'9abc'def0u);
  EXPECT_EQ(std::get<uint64_t>(round_trip(*m).payload), 0x1234'5678'9abc'def0u);
}

TEST(VhostUserMessage, WrongFixedSizesFail) {
  EXPECT_FALSE(parse(kSetFeatures, std::vector<uint8_t>(4)).ok());
  EXPECT_FALSE(parse(kSetFeatures, std::vector<uint8_t>(16)).ok());
  EXPECT_FALSE(parse(kGetFeatures, std::vector<uint8_t>(8)).ok());
  EXPECT_FALSE(parse(kSetVringNum, std::vector<uint8_t>(4)).ok());
  EXPECT_FALSE(parse(kSetVringAddr, std::vector<uint8_t>(32)).ok());
  EXPECT_FALSE(parse(kSetVringKick, std::vector<uint8_t>(4)).ok());
}

TEST(VhostUserMessage, PayloadLengthMustMatchHeader) {
  Header h{kSetFeatures, kVersion, 8};
  std::vector<uint8_t> p(4);
  EXPECT_FALSE(parse_message(h, p, {}).ok());
}

TEST(VhostUserMessage, VringStateAndAddr) {
  std::vector<uint8_t> p;
  append<uint32_t>(p, 1);
  append<uint32_t>(p, 256);
  auto m = parse(kSetVringNum, p);
  ASSERT_TRUE(m.ok());
  auto s = std::get<VringState>(round_trip(*m).payload);
  EXPECT_EQ(s.index, 1u);
  EXPECT_EQ(s.num, 256u);

  std::vector<uint8_t> a;
  append<uint32_t>(a, 0);
  append<uint32_t>(a, 1);
  append<uint64_t>(a, 0x1000);
  append<uint64_t>(a, 0x3000);
  append<uint64_t>(a, 0x2000);
  append<uint64_t>(a, 0);
  auto ma = parse(kSetVringAddr, a);
  ASSERT_TRUE(ma.ok());
  auto addr = std::get<VringAddr>(round_trip(*ma).payload);
  EXPECT_EQ(addr.desc_uva, 0x1000u);
  EXPECT_EQ(addr.used_uva, 0x3000u);
  EXPECT_EQ(addr.avail_uva, 0x2000u);
  EXPECT_EQ(addr.flags, 1u);
}

TEST(VhostUserMessage, VringFdWithAndWithoutFd) {
  std::vector<uint8_t> p;
  append<uint64_t>(p, 1);
  std::vector<UniqueFd> fds;
  fds.push_back(make_fd());
  int raw = fds[0].get();
  auto m = parse(kSetVringKick, p, std::move(fds));
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto& f = std::get<VringFd>(m->payload);
  EXPECT_EQ(f.index, 1u);
  EXPECT_EQ(f.fd.get(), raw);
  round_trip(*m);

  std::vector<uint8_t> nofd;
  append<uint64_t>(nofd, 0x100 | 2);
  auto n = parse(kSetVringCall, nofd);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::get<VringFd>(n->payload).index, 2u);
  EXPECT_FALSE(std::get<VringFd>(n->payload).fd.valid());
  round_trip(*n);
}

TEST(VhostUserMessage, VringFdCountMismatchFailsAndClosesFds) {
  std::vector<uint8_t> p;
  append<uint64_t>(p, 0);
  EXPECT_FALSE(parse(kSetVringKick, p).ok());  // fd expected, none sent

  std::vector<uint8_t> nofd;
  append<uint64_t>(nofd, 0x100);
  std::vector<UniqueFd> fds;
  fds.push_back(make_fd());
  int raw = fds[0].get();
  EXPECT_FALSE(parse(kSetVringKick, nofd, std::move(fds)).ok());  // no-fd flag yet an fd
  EXPECT_FALSE(fd_open(raw));

  std::vector<uint8_t> reserved;
  append<uint64_t>(reserved, 0x200);
  EXPECT_FALSE(parse(kSetVringErr, reserved).ok());
}

std::vector<uint8_t> mem_table_payload(uint32_t n, uint32_t regions_written) {
  std::vector<uint8_t> p;
  append<uint32_t>(p, n);
  append<uint32_t>(p, 0);
  for (uint32_t i = 0; i < regions_written; ++i) {
    append<uint64_t>(p, i * 0x100000ull);  // gpa
    append<uint64_t>(p, 0x100000);         // size
    append<uint64_t>(p, 0x7f0000000000ull + i * 0x100000ull);
    append<uint64_t>(p, 0);
  }
  return p;
}

TEST(VhostUserMessage, MemTable) {
  std::vector<UniqueFd> fds;
  fds.push_back(make_fd());
  fds.push_back(make_fd());
  auto m = parse(kSetMemTable, mem_table_payload(2, 2), std::move(fds));
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto& t = std::get<MemTable>(m->payload);
  ASSERT_EQ(t.regions.size(), 2u);
  EXPECT_EQ(t.regions[1].gpa, 0x100000u);
  EXPECT_EQ(t.regions[1].uva, 0x7f0000100000u);
  EXPECT_TRUE(t.regions[0].fd.valid());
  EXPECT_TRUE(t.regions[1].fd.valid());
  EXPECT_EQ(std::get<MemTable>(round_trip(*m).payload).regions.size(), 2u);
}

TEST(VhostUserMessage, MemTableMalformed) {
  auto two_fds = [] {
    std::vector<UniqueFd> fds;
    fds.push_back(make_fd());
    fds.push_back(make_fd());
    return fds;
  };
  // fd count must match the region count.
  std::vector<UniqueFd> one;
  one.push_back(make_fd());
  EXPECT_FALSE(parse(kSetMemTable, mem_table_payload(2, 2), std::move(one)).ok());
  // Region count claims more than the payload holds, or less.
  EXPECT_FALSE(parse(kSetMemTable, mem_table_payload(3, 2), two_fds()).ok());
  EXPECT_FALSE(parse(kSetMemTable, mem_table_payload(1, 2), two_fds()).ok());
  // Zero, or more than 8 regions.
  EXPECT_FALSE(parse(kSetMemTable, mem_table_payload(0, 0)).ok());
  EXPECT_FALSE(parse(kSetMemTable, mem_table_payload(9, 9)).ok());
  EXPECT_FALSE(parse(kSetMemTable, std::vector<uint8_t>(4)).ok());
}

TEST(VhostUserMessage, Config) {
  std::vector<uint8_t> p;
  append<uint32_t>(p, 4);  // offset
  append<uint32_t>(p, 8);  // size
  append<uint32_t>(p, 0);  // flags
  p.resize(p.size() + 8);
  auto m = parse(kGetConfig, p);
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto& c = std::get<ConfigSpace>(m->payload);
  EXPECT_EQ(c.offset, 4u);
  EXPECT_EQ(c.data.size(), 8u);
  round_trip(*m);

  p.resize(p.size() - 1);  // size field says 8, 7 follow
  EXPECT_FALSE(parse(kGetConfig, p).ok());

  std::vector<uint8_t> big;
  append<uint32_t>(big, 0);
  append<uint32_t>(big, kMaxConfigSize + 1);
  append<uint32_t>(big, 0);
  big.resize(big.size() + kMaxConfigSize + 1);
  EXPECT_FALSE(parse(kGetConfig, big).ok());
  EXPECT_FALSE(parse(kGetConfig, std::vector<uint8_t>(8)).ok());
}

TEST(VhostUserMessage, UnexpectedFdsFailAndClose) {
  std::vector<uint8_t> p;
  append<uint64_t>(p, 0);
  std::vector<UniqueFd> fds;
  fds.push_back(make_fd());
  int raw = fds[0].get();
  EXPECT_FALSE(parse(kSetFeatures, p, std::move(fds)).ok());
  EXPECT_FALSE(fd_open(raw));
}

TEST(VhostUserMessage, UnknownRequestParsesEmptyAndDropsFds) {
  std::vector<UniqueFd> fds;
  fds.push_back(make_fd());
  int raw = fds[0].get();
  auto m = parse(999, std::vector<uint8_t>(20), std::move(fds));
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(std::holds_alternative<std::monostate>(m->payload));
  EXPECT_FALSE(fd_open(raw));
}

TEST(VhostUserReply, SerializeAndParse) {
  auto bytes = serialize(reply_u64(kGetFeatures, 0xabc));
  ASSERT_EQ(bytes.size(), kHeaderSize + 8);
  uint32_t flags;
  std::memcpy(&flags, bytes.data() + 4, 4);
  EXPECT_EQ(flags, kVersion | kReplyFlag);
  auto r = parse_reply(bytes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->request, kGetFeatures);
  uint64_t v;
  std::memcpy(&v, r->payload.data(), 8);
  EXPECT_EQ(v, 0xabcu);

  bytes.pop_back();
  EXPECT_FALSE(parse_reply(bytes).ok());

  auto cfg = reply_config(kGetConfig, ConfigSpace{2, 0, {1, 2, 3}});
  EXPECT_EQ(cfg.payload.size(), 12u + 3);
  auto st = reply_vring_state(kGetVringBase, VringState{1, 7});
  EXPECT_EQ(st.payload.size(), 8u);
}

TEST(VhostUserReply, FailureReplies) {
  Error e = make_error("nope", EPERM);
  // Requests with their own reply get an empty one (GET_CONFIG's error signal).
  auto r = failure_reply(Header{kGetConfig, kVersion, 20}, e);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->payload.empty());
  // need_reply: a non-zero ack.
  auto a = failure_reply(Header{kSetMemTable, kVersion | kNeedReplyFlag, 0}, e);
  ASSERT_TRUE(a.has_value());
  uint64_t v;
  ASSERT_EQ(a->payload.size(), 8u);
  std::memcpy(&v, a->payload.data(), 8);
  EXPECT_EQ(v, uint64_t{EPERM});
  // Otherwise silence.
  EXPECT_FALSE(failure_reply(Header{kSetMemTable, kVersion, 0}, e).has_value());
}

}  // namespace
}  // namespace runvm::vhost_user
