#include "shim/engine/confinement.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace runvm {
namespace {

TEST(ResolveUser, NumbersGiveUidAndGid) {
  auto c = resolve_user("1234:99");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->uid, 1234u);
  EXPECT_EQ(c->gid, 99u);
  EXPECT_EQ(c->groups, std::vector<gid_t>{99});
  auto same = resolve_user("4321");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->gid, 4321u);
}

TEST(ResolveUser, BadNumbersAndUnknownNamesAreOneLine) {
  for (const char* bad : {"12x", "1:", "1:2:3", "4294967295", "99999999999", ":5", ""}) {
    auto c = resolve_user(bad);
    EXPECT_FALSE(c.ok()) << bad;
  }
  auto none = resolve_user("no-such-user-runvm");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no such user"), std::string::npos);
}

TEST(ResolveUser, NameBringsItsPrimaryGroup) {
  auto c = resolve_user("root");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->uid, 0u);
  EXPECT_EQ(c->gid, 0u);
  EXPECT_NE(std::find(c->groups.begin(), c->groups.end(), 0u), c->groups.end());
}

TEST(PrepareConfinement, PlansUsrTheGivenFilesAndDevicesOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "plans a mount namespace only with CAP_SYS_ADMIN";
  auto c = prepare_confinement({.read_only = {"/etc/hostname"}}, "/usr/bin/env");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_TRUE(c->mount_namespace());
  std::vector<std::string> binds;
  for (const auto& s : c->steps())
    if (s.kind == MountStep::kBind || s.kind == MountStep::kBindReadOnly) {
      binds.push_back(s.source);
      EXPECT_EQ(s.path, c->staging() + s.source);
    }
  for (const char* want : {"/usr", "/etc/hostname", "/dev/null", "/dev/urandom"})
    EXPECT_NE(std::find(binds.begin(), binds.end(), want), binds.end()) << want;
  EXPECT_EQ(std::find(binds.begin(), binds.end(), "/etc"), binds.end());
  // /usr/bin/env lives under /usr: no extra prefix.
  EXPECT_EQ(std::count_if(binds.begin(), binds.end(),
                          [](const std::string& b) { return b.starts_with("/usr"); }),
            1);
}

// A tmpfs over /tmp would hide a kernel kept there: the root is built elsewhere.
TEST(PrepareConfinement, FilesUnderTmpAreNotHiddenByTheStagingTmpfs) {
  if (::geteuid() != 0) GTEST_SKIP() << "plans a mount namespace only with CAP_SYS_ADMIN";
  char tmpl[] = "/tmp/runvm-confine-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto c = prepare_confinement({.read_only = {tmpl}}, "/usr/bin/env");
  ::unlink(tmpl);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_NE(c->staging(), "/tmp");
  EXPECT_FALSE(c->staging().empty());
}

TEST(PrepareConfinement, MissingFileFailsNamingIt) {
  auto c = prepare_confinement({.read_only = {"/no/such/kernel"}}, "/usr/bin/env");
  if (::geteuid() != 0) GTEST_SKIP();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/no/such/kernel"), std::string::npos);
}

}  // namespace
}  // namespace runvm
