#include "guest/agent/container_mounts.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

namespace runvm::agent {
namespace {

TEST(MountOptions, FlagsAndDataAreSplit) {
  auto o = parse_mount_options({"nosuid", "noexec", "ro", "mode=1777", "size=1m", "rprivate"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_RDONLY));
  EXPECT_EQ(o.data, "mode=1777,size=1m");
  EXPECT_FALSE(o.bind);
  EXPECT_EQ(o.propagation, std::vector<unsigned long>{MS_PRIVATE | MS_REC});
}

TEST(MountOptions, PropagationInOrder) {
  auto o = parse_mount_options({"shared", "rslave", "runbindable", "private"});
  EXPECT_EQ(o.propagation, (std::vector<unsigned long>{MS_SHARED, MS_SLAVE | MS_REC,
                                                       MS_UNBINDABLE | MS_REC, MS_PRIVATE}));
  EXPECT_EQ(o.data, "");
  EXPECT_EQ(propagation_flags("rshared"), static_cast<unsigned long>(MS_SHARED | MS_REC));
  EXPECT_EQ(propagation_flags(""), 0u);
  EXPECT_EQ(propagation_flags("size=1m"), 0u);
}

TEST(MountOptions, LaterOptionsWinAndBindIsNoted) {
  auto o = parse_mount_options({"ro", "rw", "rbind", "nodev"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NODEV));
  EXPECT_EQ(o.clear, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_TRUE(o.bind);
  EXPECT_TRUE(o.recursive);
  EXPECT_EQ(o.data, "");
}

TEST(MountOptions, WhatTheRootProvidesIsSkipped) {
  EXPECT_TRUE(provided_by_root({"/proc", "proc", "proc", "", {}}));
  EXPECT_TRUE(provided_by_root({"/dev", "tmpfs", "tmpfs", "", {}}));
  EXPECT_TRUE(provided_by_root({"/dev/pts", "devpts", "devpts", "", {}}));
  EXPECT_FALSE(provided_by_root({"/dev/shm", "tmpfs", "shm", "", {}}));
  EXPECT_FALSE(provided_by_root({"/proc", "bind", "", "bind0", {}}));
}

TEST(CloneBindSources, PathsOutsideTheShareAreRefused) {
  for (const char* bad : {"/etc", "..", "../x", "a/../../x", "a/.."}) {
    auto r = clone_bind_sources({{"/x", "bind", bad, "bind0", {"bind"}}}, "/nonexistent/staging");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("invalid path"), std::string::npos) << r.error().message;
  }
  auto none = clone_bind_sources({{"/t", "tmpfs", "tmpfs", "", {}}}, "/nonexistent/staging");
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none->size(), 1u);
  EXPECT_FALSE((*none)[0].valid());
}

}  // namespace
}  // namespace runvm::agent
