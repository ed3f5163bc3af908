#include "shim/fs/fuse_request.h"

#include <gtest/gtest.h>

#include <string>

namespace runvm::fuse {
namespace {

std::vector<uint8_t> request(uint32_t opcode, const std::vector<uint8_t>& args,
                             int32_t len_delta = 0) {
  fuse_in_header in{};
  in.opcode = opcode;
  in.unique = 77;
  std::vector<uint8_t> b(sizeof in);
  b.insert(b.end(), args.begin(), args.end());
  in.len = static_cast<uint32_t>(b.size() + len_delta);
  std::memcpy(b.data(), &in, sizeof in);
  return b;
}

DescChain chain_of(std::vector<uint8_t>& req, size_t piece = SIZE_MAX) {
  DescChain c;
  for (size_t off = 0; off < req.size(); off += piece)
    c.readable.push_back({req.data() + off, std::min(piece, req.size() - off)});
  return c;
}

TEST(FuseRequest, ParsesHeaderAndArgsAcrossDescriptors) {
  auto b = request(FUSE_LOOKUP, {'a', 'b', 0});
  auto c = chain_of(b, 7);
  RequestParser p;
  std::optional<uint64_t> unique;
  auto r = p.parse(c, unique);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*unique, 77u);
  EXPECT_EQ(r->in.opcode, uint32_t{FUSE_LOOKUP});
  ASSERT_EQ(r->args.size(), 3u);
  ArgReader a(r->args);
  EXPECT_EQ(a.name(), std::optional<std::string_view>("ab"));
}

TEST(FuseRequest, RejectsShortHeaderWithoutUnique) {
  std::vector<uint8_t> b(10);
  auto c = chain_of(b);
  RequestParser p;
  std::optional<uint64_t> unique;
  EXPECT_FALSE(p.parse(c, unique).ok());
  EXPECT_FALSE(unique.has_value());
}

TEST(FuseRequest, RejectsLenThatDisagreesWithChain) {
  for (int delta : {-1, 1, 1000}) {
    auto b = request(FUSE_GETATTR, std::vector<uint8_t>(16), delta);
    auto c = chain_of(b);
    RequestParser p;
    std::optional<uint64_t> unique;
    auto r = p.parse(c, unique);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_EQ(unique, std::optional<uint64_t>(77));
  }
}

TEST(FuseRequest, RejectsOversizedArgsAndExtensions) {
  auto big = request(FUSE_SETXATTR, std::vector<uint8_t>(kMaxArgBytes + 1));
  auto c = chain_of(big);
  RequestParser p;
  std::optional<uint64_t> unique;
  EXPECT_FALSE(p.parse(c, unique).ok());

  auto ext = request(FUSE_MKDIR, std::vector<uint8_t>(16));
  reinterpret_cast<fuse_in_header*>(ext.data())->total_extlen = 1;
  auto c2 = chain_of(ext);
  EXPECT_FALSE(p.parse(c2, unique).ok());
}

TEST(FuseRequest, WriteDataStaysInPlaceAndMustMatchSize) {
  fuse_write_in w{};
  w.size = 5;
  std::vector<uint8_t> args(sizeof w);
  std::memcpy(args.data(), &w, sizeof w);
  for (char ch : std::string("hello")) args.push_back(static_cast<uint8_t>(ch));
  auto b = request(FUSE_WRITE, args);
  auto c = chain_of(b, 50);  // header+write_in = 80 bytes; data split too
  RequestParser p;
  std::optional<uint64_t> unique;
  auto r = p.parse(c, unique);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->write_size, 5u);
  std::string got;
  for (auto& v : r->write_data) got.append(static_cast<char*>(v.iov_base), v.iov_len);
  EXPECT_EQ(got, "hello");

  b.push_back('!');  // one more data byte than write_in.size says
  reinterpret_cast<fuse_in_header*>(b.data())->len += 1;
  auto c2 = chain_of(b);
  EXPECT_FALSE(p.parse(c2, unique).ok());
}

TEST(FuseArgs, NamesMustBeSingleSafeComponents) {
  for (std::string bad : {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("/"), std::string(256, 'x')}) {
    std::vector<uint8_t> a(bad.begin(), bad.end());
    a.push_back(0);
    ArgReader r(a);
    EXPECT_FALSE(r.name().has_value()) << bad;
    // As Linux answers: too long is ENAMETOOLONG, the rest EINVAL.
    EXPECT_EQ(r.name_errno(), bad.size() > 255 ? ENAMETOOLONG : EINVAL) << bad;
  }
  // Unterminated (within what was sent) is malformed, however long.
  std::vector<uint8_t> unterminated(300, 'z');
  ArgReader ru(unterminated);
  EXPECT_FALSE(ru.name().has_value());
  EXPECT_EQ(ru.name_errno(), EINVAL);
  std::vector<uint8_t> ok = {'.', '.', '.', 0};
  ArgReader r(ok);
  EXPECT_EQ(r.name(), std::optional<std::string_view>("..."));
  std::vector<uint8_t> max(255, 'y');
  max.push_back(0);
  ArgReader rm(max);
  EXPECT_TRUE(rm.name().has_value());
}

TEST(FuseArgs, StringsMustBeTerminatedWithinBounds) {
  std::vector<uint8_t> unterminated = {'a', 'b', 'c'};
  ArgReader r(unterminated);
  EXPECT_FALSE(r.cstring(100).has_value());
  std::vector<uint8_t> two = {'a', 0, 'b', 'c', 0};
  ArgReader r2(two);
  EXPECT_EQ(r2.cstring(10), std::optional<std::string_view>("a"));
  EXPECT_EQ(r2.cstring(1), std::nullopt);  // "bc" is longer than 1
  std::vector<uint8_t> short_struct(4);
  ArgReader r3(short_struct);
  fuse_mkdir_in m;
  EXPECT_FALSE(r3.read(m));
  fuse_setxattr_in s;
  std::vector<uint8_t> eight(8, 1);
  ArgReader r4(eight);
  EXPECT_TRUE(r4.read_prefix(s, 8));
  EXPECT_EQ(s.setxattr_flags, 0u);
}

TEST(FuseReply, WritesHeaderAndPayloadAcrossBuffers) {
  std::vector<uint8_t> mem(40, 0);
  std::vector<std::span<uint8_t>> out = {{mem.data(), 10}, {mem.data() + 10, 30}};
  ReplyWriter w(out, 9);
  EXPECT_EQ(w.capacity(), 24u);
  uint8_t payload[20];
  std::memset(payload, 'p', sizeof payload);
  EXPECT_EQ(w.ok({payload, sizeof payload}), 36u);
  fuse_out_header h;
  std::memcpy(&h, mem.data(), sizeof h);
  EXPECT_EQ(h.len, 36u);
  EXPECT_EQ(h.error, 0);
  EXPECT_EQ(h.unique, 9u);
  EXPECT_EQ(mem[16], 'p');
  EXPECT_EQ(mem[35], 'p');

  uint8_t too_big[25] = {};
  EXPECT_EQ(w.ok({too_big, sizeof too_big}), 16u);
  std::memcpy(&h, mem.data(), sizeof h);
  EXPECT_EQ(h.error, -ERANGE);
}

TEST(FuseReply, PayloadIovSkipsTheHeaderAndChainsTooShortGetNothing) {
  std::vector<uint8_t> mem(64, 0);
  std::vector<std::span<uint8_t>> out = {
      {mem.data(), 8}, {mem.data() + 8, 12}, {mem.data() + 20, 44}};
  ReplyWriter w(out, 1);
  auto iov = w.payload_iov(30);
  ASSERT_EQ(iov.size(), 2u);
  EXPECT_EQ(iov[0].iov_base, mem.data() + 16);
  EXPECT_EQ(iov[0].iov_len, 4u);
  EXPECT_EQ(iov[1].iov_len, 26u);
  EXPECT_EQ(w.finish(30), 46u);

  std::vector<uint8_t> tiny(15);
  std::vector<std::span<uint8_t>> small = {{tiny.data(), tiny.size()}};
  ReplyWriter t(small, 1);
  EXPECT_EQ(t.error(EIO), 0u);
  EXPECT_EQ(t.capacity(), 0u);
  // Found by fuse_request_fuzz: an empty ok() must not claim a header it could not write.
  EXPECT_EQ(t.ok(), 0u);
}

}  // namespace
}  // namespace runvm::fuse
