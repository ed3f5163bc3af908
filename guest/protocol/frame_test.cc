#include "guest/protocol/frame.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "spec/base/unique_fd.h"

namespace runvm::proto {
namespace {

std::pair<UniqueFd, UniqueFd> socket_pair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string header(uint32_t n) {
  std::string h(4, '\0');
  h[0] = static_cast<char>(n >> 24);
  h[1] = static_cast<char>(n >> 16);
  h[2] = static_cast<char>(n >> 8);
  h[3] = static_cast<char>(n);
  return h;
}

TEST(Frame, EncodeIsBigEndianLengthThenBody) {
  auto f = encode_frame(R"({"a":1})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, header(7) + R"({"a":1})");
  EXPECT_EQ(*encode_frame(""), header(0));
}

TEST(Frame, EncodeRejectsOversize) {
  EXPECT_TRUE(encode_frame(std::string(kMaxFrameSize, 'x')).ok());
  EXPECT_FALSE(encode_frame(std::string(kMaxFrameSize + 1, 'x')).ok());
}

TEST(FrameDecoder, ReassemblesFramesFedByteByByte) {
  std::string stream = *encode_frame("first") + *encode_frame("") + *encode_frame("third!");
  FrameDecoder d;
  std::vector<std::string> got;
  for (char c : stream) {
    ASSERT_TRUE(d.feed(std::string_view(&c, 1)).ok());
    for (;;) {
      auto f = d.next();
      ASSERT_TRUE(f.ok());
      if (!*f) break;
      got.push_back(**f);
    }
  }
  EXPECT_EQ(got, (std::vector<std::string>{"first", "", "third!"}));
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameDecoder, ManyFramesInOneFeed) {
  FrameDecoder d;
  ASSERT_TRUE(d.feed(*encode_frame("a") + *encode_frame("bb") + header(3) + "c").ok());
  EXPECT_EQ(**d.next(), "a");
  EXPECT_EQ(**d.next(), "bb");
  EXPECT_FALSE(d.next()->has_value());
  EXPECT_EQ(d.buffered(), 5u);  // partial frame kept
  ASSERT_TRUE(d.feed("cc").ok());
  EXPECT_EQ(**d.next(), "ccc");
}

TEST(FrameDecoder, OversizeHeaderPoisonsBeforeBodyArrives) {
  FrameDecoder d(16);
  EXPECT_TRUE(d.feed(header(16) + std::string(16, 'x')).ok());
  EXPECT_EQ(**d.next(), std::string(16, 'x'));
  auto st = d.feed(header(17));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("exceeds"), std::string::npos);
  EXPECT_TRUE(d.failed());
  EXPECT_FALSE(d.next().ok());
  EXPECT_FALSE(d.feed("x").ok());
}

TEST(FrameDecoder, HugeLengthIsRejectedNotAllocated) {
  FrameDecoder d;
  EXPECT_FALSE(d.feed(header(0xffffffffu)).ok());
}

TEST(FrameIo, RoundTripOverSocket) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(write_frame(a.get(), R"({"type":"ping","id":1})").ok());
  ASSERT_TRUE(write_frame(a.get(), "").ok());
  a.reset();
  auto f1 = read_frame(b.get());
  ASSERT_TRUE(f1.ok()) << f1.error().message;
  EXPECT_EQ(**f1, R"({"type":"ping","id":1})");
  EXPECT_EQ(**read_frame(b.get()), "");
  auto eof = read_frame(b.get());
  ASSERT_TRUE(eof.ok());
  EXPECT_FALSE(eof->has_value());
}

TEST(FrameIo, LargeFrameWithShortReadsAndWrites) {
  auto [a, b] = socket_pair();
  std::string body(kMaxFrameSize, 'z');
  body[12345] = 'q';
  std::thread writer([&, fd = a.get()] { EXPECT_TRUE(write_frame(fd, body).ok()); });
  auto f = read_frame(b.get());
  writer.join();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(**f, body);
}

TEST(FrameIo, EofMidFrameIsError) {
  {
    auto [a, b] = socket_pair();
    ASSERT_TRUE(write_all(a.get(), "\0\0", 2).ok());
    a.reset();
    EXPECT_FALSE(read_frame(b.get()).ok());
  }
  {
    auto [a, b] = socket_pair();
    std::string partial = header(10) + "abc";
    ASSERT_TRUE(write_all(a.get(), partial.data(), partial.size()).ok());
    a.reset();
    auto r = read_frame(b.get());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("EOF"), std::string::npos);
  }
}

TEST(FrameIo, ReadRejectsOversizeHeader) {
  auto [a, b] = socket_pair();
  std::string h = header(kMaxFrameSize + 1);
  ASSERT_TRUE(write_all(a.get(), h.data(), h.size()).ok());
  EXPECT_FALSE(read_frame(b.get()).ok());
}

TEST(FrameIo, WriteToClosedPeerIsErrorNotSigpipe) {
  auto [a, b] = socket_pair();
  b.reset();
  auto st = write_frame(a.get(), "hello");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, EPIPE);
}

TEST(FrameIo, WriteWorksOnPipes) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  ASSERT_TRUE(write_frame(w.get(), "pipe").ok());
  EXPECT_EQ(**read_frame(r.get()), "pipe");
}

}  // namespace
}  // namespace runvm::proto
