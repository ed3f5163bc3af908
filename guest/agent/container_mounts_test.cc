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

std::vector<std::string> destinations(const std::vector<proto::Mount>& mounts) {
  std::vector<std::string> out;
  for (const auto& [m, index] : order_mounts(mounts))
    out.push_back(m->destination + (index < 0 ? " (default)" : ""));
  return out;
}

TEST(OrderMounts, ConfigOrderIsKept) {
  // runc's default spec: /sys comes last and /dev/mqueue after /dev/shm.
  std::vector<proto::Mount> mounts = {
      {"/proc", "proc", "proc", "", {}},           {"/dev", "tmpfs", "tmpfs", "", {}},
      {"/dev/pts", "devpts", "devpts", "", {}},    {"/dev/shm", "tmpfs", "shm", "", {}},
      {"/dev/mqueue", "mqueue", "mqueue", "", {}}, {"/sys", "sysfs", "sysfs", "", {}}};
  EXPECT_EQ(destinations(mounts), (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm",
                                                            "/dev/mqueue", "/sys"}));
}

TEST(OrderMounts, MissingDefaultsAreAdded) {
  EXPECT_EQ(destinations({}),
            (std::vector<std::string>{"/proc (default)", "/sys (default)", "/dev (default)",
                                      "/dev/pts (default)", "/dev/mqueue (default)"}));
  // pts and mqueue right after the config's /dev; none under a host /dev.
  EXPECT_EQ(destinations({{"/tmp", "tmpfs", "tmpfs", "", {}}, {"/dev/", "tmpfs", "tmpfs", "", {}}}),
            (std::vector<std::string>{"/proc (default)", "/sys (default)", "/tmp", "/dev/",
                                      "/dev/pts (default)", "/dev/mqueue (default)"}));
  EXPECT_EQ(destinations({{"/dev", "bind", "", "bind0", {"rbind"}}}),
            (std::vector<std::string>{"/proc (default)", "/sys (default)", "/dev"}));
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
