#include "guest/agent/passwd.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "spec/base/unique_fd.h"

namespace runvm::agent {
namespace {

TEST(PasswdHomeTest, MatchesTheUidFieldExactly) {
  EXPECT_EQ(passwd_home("root:x:0:0:root:/root:/bin/sh", 0), "/root");
  EXPECT_EQ(passwd_home("app:x:1000:1000::/home/app:/bin/sh", 1000), "/home/app");
  EXPECT_EQ(passwd_home("app:x:1000:1000::/home/app:/bin/sh", 100), std::nullopt);
  EXPECT_EQ(passwd_home("bond:x:007:7::/home/bond:/bin/sh", 7), std::nullopt);
}

TEST(PasswdHomeTest, NeedsSixFieldsAndAHome) {
  EXPECT_EQ(passwd_home("root:x:0:0:root:/root", 0), "/root");  // no shell field
  EXPECT_EQ(passwd_home("root:x:0:0:root", 0), std::nullopt);
  EXPECT_EQ(passwd_home("root:x:0:0:root::/bin/sh", 0), std::nullopt);
  EXPECT_EQ(passwd_home("", 0), std::nullopt);
  EXPECT_EQ(passwd_home(":::::", 0), std::nullopt);
}

// The file's content through a pipe, which returns short reads as a file on
// virtio-fs may.
std::string home_in(const std::string& content, uint32_t uid) {
  int p[2];
  EXPECT_EQ(::pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  EXPECT_EQ(::write(w.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
  w.reset();
  return home_from_passwd(r.get(), uid);
}

TEST(HomeFromPasswdTest, FirstMatchingLineWins) {
  EXPECT_EQ(home_in("root:x:0:0:root:/root:/bin/sh\nb:x:0:0::/b:/bin/sh\n", 0), "/root");
  EXPECT_EQ(home_in("a:x:1:1::/a:/bin/sh\nb:x:2:2::/b:/bin/sh\n", 2), "/b");
}

TEST(HomeFromPasswdTest, DefaultsToSlash) {
  EXPECT_EQ(home_in("", 0), "/");
  EXPECT_EQ(home_in("a:x:1:1::/a:/bin/sh\n", 0), "/");
  EXPECT_EQ(home_in("root:x:0:0:root::/bin/sh\n", 0), "/");
}

TEST(HomeFromPasswdTest, LastLineWithoutNewline) {
  EXPECT_EQ(home_in("a:x:1:1::/a:/bin/sh\nroot:x:0:0::/r", 0), "/r");
}

TEST(HomeFromPasswdTest, LinesAcrossReadBoundaries) {
  // Padding lines push the match across the 4096-byte reads at every offset
  // near the boundary.
  for (size_t pad = 4060; pad < 4110; ++pad) {
    std::string content(pad, '#');
    content += "\nroot:x:0:0:root:/deep/home:/bin/sh\n";
    EXPECT_EQ(home_in(content, 0), "/deep/home") << pad;
  }
  std::string longline = std::string(10000, 'x') + ":x:0:0::/long:/bin/sh\n";
  EXPECT_EQ(home_in(longline, 0), "/long");
}

TEST(HomeFromPasswdTest, UnreadableFdIsSlash) { EXPECT_EQ(home_from_passwd(-1, 0), "/"); }

}  // namespace
}  // namespace runvm::agent
