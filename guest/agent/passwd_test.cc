#include "guest/agent/passwd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "spec/base/unique_fd.h"

namespace runvm::agent {
namespace {

TEST(PasswdHomeTest, MatchesTheUid) {
  EXPECT_EQ(passwd_home("root:x:0:0:root:/root:/bin/sh", 0), "/root");
  EXPECT_EQ(passwd_home("app:x:1000:1000::/home/app:/bin/sh", 1000), "/home/app");
  EXPECT_EQ(passwd_home("app:x:1000:1000::/home/app:/bin/sh", 100), std::nullopt);
  EXPECT_EQ(passwd_home("app:x:4294967295:0::/max:/bin/sh", 4294967295u), "/max");
}

// runc 1.1.5's answers, each line alone in a bundle's /etc/passwd with
// process.user.uid `uid` and no HOME in the env (nullopt: no match, runc's
// "/"): the uid field read as Go's strconv.Atoi reads it (not a number: 0;
// out of range: no uid), a missing field "" (a missing home: HOME=""), the
// line trimmed of white space, an empty one skipped.
struct RuncCase {
  const char* line;
  uint32_t uid;
  std::optional<std::string_view> home;
};
constexpr RuncCase kRuncCases[] = {
    {"bond:x:007:7::/home/bond:/bin/sh", 7, "/home/bond"},
    {"s:x:+7:0::/plus:/bin/sh", 7, "/plus"},
    {"r:x:-0:0::/neg0:/bin/sh", 0, "/neg0"},
    {"r:x:00000000000000000000:0::/zeros:/bin/sh", 0, "/zeros"},
    {"bad:x:7a:0::/bad:/bin/sh", 0, "/bad"},
    {"bad:x:7a:0::/bad:/bin/sh", 7, std::nullopt},
    {"s:x: 7:0::/sp:/bin/sh", 7, std::nullopt},
    {"bad:x::0::/empty:/bin/sh", 0, "/empty"},
    {"r:x:-7:0::/neg:/bin/sh", 7, std::nullopt},
    {"r:x:99999999999999999999:0::/big:/bin/sh", 0, std::nullopt},
    {"r:x:4294967303:0::/wrap:/bin/sh", 7, std::nullopt},  // 2^32 + 7
    {"root:x:0:0:root:/root", 0, "/root"},                 // no shell field
    {"s:x:7:0::/h:/bin/sh:extra", 7, "/h"},
    {"s:x:7", 7, ""},
    {"root:x:0:0:root::/bin/sh", 0, ""},
    {"root", 0, ""},
    {"#comment", 0, ""},
    {":::::", 0, ""},
    {"  s:x:7:0::/ws   ", 7, "/ws"},
    {"\tr:x:0:0::/tab\t\v\r", 0, "/tab"},
    {"r:x:0:0::/a b :/bin/sh", 0, "/a b "},
    {"", 0, std::nullopt},
    {" \t ", 0, std::nullopt},
    {"root:x:0:0::/r00t\xc2\xa0", 0, "/r00t"},                       // U+00A0
    {"\xe3\x80\x80r:x:0:0::/ideo\xe2\x80\x8a\xc2\x85", 0, "/ideo"},  // U+3000, U+200A, U+0085
    {"\xc2\xa1r:x:0:0::/x\xc2\xa1", 0, "/x\xc2\xa1"},                // U+00A1: no space
};

TEST(PasswdHomeTest, ReadsALineAsRunc) {
  for (const auto& c : kRuncCases)
    EXPECT_EQ(passwd_home(c.line, c.uid), c.home) << '"' << c.line << "\" uid " << c.uid;
}

// The file's content through a pipe, which returns short reads as a file on
// virtio-fs may; "error: <message>" when it fails.
std::string home_in(const std::string& content, uint32_t uid) {
  int p[2];
  EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  // Room for all of it, so one thread can write it before reading.
  // Else the write below would block forever.
  if (::fcntl(w.get(), F_SETPIPE_SZ, 1 << 20) < static_cast<int>(content.size()))
    return "test error: pipe too small";
  EXPECT_EQ(::write(w.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
  w.reset();
  auto home = home_from_passwd(r.get(), uid);
  return home.ok() ? *home : "error: " + home.error().message;
}

constexpr char kTooLong[] = "error: /etc/passwd: a line of 64 KiB or more (token too long)";

TEST(HomeFromPasswdTest, FirstMatchingLineWins) {
  EXPECT_EQ(home_in("root:x:0:0:root:/root:/bin/sh\nb:x:0:0::/b:/bin/sh\n", 0), "/root");
  EXPECT_EQ(home_in("a:x:1:1::/a:/bin/sh\nb:x:2:2::/b:/bin/sh\n", 2), "/b");
}

TEST(HomeFromPasswdTest, DefaultsToSlash) {
  EXPECT_EQ(home_in("", 0), "/");
  EXPECT_EQ(home_in("a:x:1:1::/a:/bin/sh\n", 0), "/");
}

// The first matching line wins even with an empty home, as runc's.
TEST(HomeFromPasswdTest, AnEmptyHomeIsKept) {
  EXPECT_EQ(home_in("e:x:7:0:::/bin/sh\nseven:x:7:0::/h7:/bin/sh\n", 7), "");
  EXPECT_EQ(home_in("#comment\nroot:x:0:0::/root:/bin/sh\n", 0), "");
  EXPECT_EQ(home_in("\n   \nroot:x:0:0::/root:/bin/sh\n", 0), "/root");
  EXPECT_EQ(home_in("s:x:7:0::/crlf\r\n", 7), "/crlf");
}

TEST(HomeFromPasswdTest, LastLineWithoutNewline) {
  EXPECT_EQ(home_in("a:x:1:1::/a:/bin/sh\nroot:x:0:0::/r", 0), "/r");
}

TEST(HomeFromPasswdTest, LinesAcrossReadBoundaries) {
  // Padding lines (uid 0 for runc: no uid field) push the match across the
  // 4096-byte reads at every offset near the boundary.
  for (size_t pad = 4060; pad < 4110; ++pad) {
    std::string content(pad, '#');
    content += "\napp:x:5:5:app:/deep/home:/bin/sh\n";
    EXPECT_EQ(home_in(content, 5), "/deep/home") << pad;
  }
  std::string longline = std::string(10000, 'x') + ":x:0:0::/long:/bin/sh\n";
  EXPECT_EQ(home_in(longline, 0), "/long");
}

// runc 1.1.5 reads the whole file with a bufio.Scanner, which fails on a
// line that does not fit its 64 KiB buffer with its newline: before or after
// the match, with or without a newline, a \r counted (bundles with these
// files: 65535 bytes work, 65536 fail "bufio.Scanner: token too long").
TEST(HomeFromPasswdTest, ALineOf64KiBFailsAsRunc) {
  const std::string app = "app:x:5:5::/app:/bin/sh\n";
  const std::string fits(65535, 'x'), over(65536, 'x');
  EXPECT_EQ(home_in(fits + "\n" + app, 5), "/app");
  EXPECT_EQ(home_in(app + fits, 5), "/app");
  EXPECT_EQ(home_in(app + fits.substr(1) + "\r\n", 5), "/app");
  EXPECT_EQ(home_in(over + "\n" + app, 5), kTooLong);
  EXPECT_EQ(home_in(app + over + "\n", 5), kTooLong) << "after the match too";
  EXPECT_EQ(home_in(app + over, 5), kTooLong);
  EXPECT_EQ(home_in(app + fits + "\r\n", 5), kTooLong);
  EXPECT_EQ(home_in(app + std::string(1 << 19, '\0'), 5), kTooLong) << "a link to /dev/zero";
}

// runc fails on a read error too ("read /etc/passwd: is a directory").
TEST(HomeFromPasswdTest, AReadErrorFails) {
  UniqueFd dir(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir);
  auto home = home_from_passwd(dir.get(), 0);
  ASSERT_FALSE(home.ok());
  EXPECT_EQ(home.error().message, "read /etc/passwd: Is a directory");
  EXPECT_FALSE(home_from_passwd(-1, 0).ok());
}

}  // namespace
}  // namespace runvm::agent
