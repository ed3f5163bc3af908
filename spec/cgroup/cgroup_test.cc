#include "spec/cgroup/cgroup.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/read_file.h"
#include "tests/support/require.h"
#include "tests/support/temp_dir.h"

namespace runvm::cgroup {
namespace {

using testing::read_file;

std::string trimmed(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// A child that sleeps until killed, reaped by the destructor.
struct Sleeper {
  pid_t pid = fork();
  Sleeper() {
    if (pid == 0) {
      pause();
      _exit(0);
    }
  }
  void stop() {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
  ~Sleeper() { stop(); }
};

std::string unique_name(const char* what) {
  return std::string("runvm-test-") + what + "-" + std::to_string(getpid());
}

TEST(CgroupPath, Clean) {
  EXPECT_EQ(*clean_path("/a//b/"), "/a/b");
  EXPECT_EQ(*clean_path("a/./b"), "a/b");
  EXPECT_EQ(*clean_path("/libpod_parent/libpod-0123"), "/libpod_parent/libpod-0123");
  EXPECT_EQ(clean_path("/a/../b").error().message, "cgroup path /a/../b: \"..\" is not allowed");
  EXPECT_EQ(clean_path("/").error().message, "cgroup path \"/\" names no cgroup");
  EXPECT_FALSE(clean_path("").ok());
  EXPECT_EQ(host_memory_limit(512ull << 20, 128), 640ll << 20);
  EXPECT_EQ(cpu_weight_of_shares(1024), 39u);  // runc's: 1 + (1022 * 9999) / 262142
  EXPECT_EQ(cpu_weight_of_shares(2), 1u);
  EXPECT_EQ(cpu_weight_of_shares(262144), 10000u);
}

TEST(CgroupPath, AbsoluteFromTheTopRelativeUnderOurOwn) {
  Layout l;
  l.hierarchies.push_back({1, "/sys/fs/cgroup/memory", "/", {"memory"}, "/process_api/x"});
  l.hierarchies.push_back({2, "/sys/fs/cgroup/unified", "/", {"hugetlb"}, "/"});
  auto abs = Cgroup::resolve(l, "/libpod_parent/c1");
  ASSERT_TRUE(abs.ok());
  ASSERT_EQ(abs->dirs().size(), 2u);
  EXPECT_EQ(abs->dirs()[0].path, "/sys/fs/cgroup/memory/libpod_parent/c1");
  EXPECT_EQ(abs->dirs()[1].path, "/sys/fs/cgroup/unified/libpod_parent/c1");
  auto rel = Cgroup::resolve(l, "c1");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->dirs()[0].path, "/sys/fs/cgroup/memory/process_api/x/c1");
  EXPECT_EQ(rel->dirs()[1].path, "/sys/fs/cgroup/unified/c1");
  EXPECT_EQ(rel->dir_of("memory"), "/sys/fs/cgroup/memory/process_api/x/c1");
  EXPECT_EQ(rel->dir_of("hugetlb"), "/sys/fs/cgroup/unified/c1");
  EXPECT_EQ(rel->dir_of("pids"), "");
  auto none = rel->set({.pids_max = 5});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message, "no cgroup hierarchy has the pids controller");
}

// cgroup v2's file formats, on a directory tree standing in for cgroupfs
// (this host's cgroup2 mount has only hugetlb: the rest is bound to v1).
TEST(CgroupV2, LimitsInV2Format) {
  testing::TempDir mnt;
  Layout l;
  l.mode = Mode::kV2;
  l.hierarchies.push_back({2, mnt.path(), "/", {"cpuset", "cpu", "memory", "pids"}, "/"});
  std::ofstream(mnt.path() + "/cgroup.subtree_control") << "";
  auto cg = Cgroup::resolve(l, "/pod/c1");
  ASSERT_TRUE(cg.ok());
  ASSERT_TRUE(cg->create().ok());
  // The kernel makes a new cgroup's interface files; here the test does.
  std::string dir = mnt.path() + "/pod/c1";
  for (const char* f :
       {"memory.max", "cpu.max", "cpu.weight", "cpuset.cpus", "cpuset.mems", "pids.max"})
    std::ofstream(dir + "/" + f) << "";
  // The parent delegated the controllers (the last write is what a plain file keeps).
  EXPECT_EQ(read_file(mnt.path() + "/cgroup.subtree_control"), "+pids");
  ASSERT_TRUE(cg->set({.memory_bytes = 640ll << 20,
                       .cpu_shares = 2048,
                       .cpu_quota_us = 50000,
                       .cpu_period_us = 100000,
                       .cpuset_cpus = "0",
                       .cpuset_mems = "0",
                       .pids_max = 42})
                  .ok());
  EXPECT_EQ(read_file(dir + "/memory.max"), "671088640");
  EXPECT_EQ(read_file(dir + "/cpu.max"), "50000 100000");
  EXPECT_EQ(read_file(dir + "/cpu.weight"), "79");
  EXPECT_EQ(read_file(dir + "/cpuset.cpus"), "0");
  EXPECT_EQ(read_file(dir + "/pids.max"), "42");
  ASSERT_TRUE(cg->set({.memory_bytes = -1, .cpu_quota_us = -1, .pids_max = 0}).ok());
  EXPECT_EQ(read_file(dir + "/memory.max"), "max");
  EXPECT_EQ(read_file(dir + "/cpu.max"), "max 100000");
  EXPECT_EQ(read_file(dir + "/pids.max"), "max");
  // A controller whose files are not there fails naming the file.
  std::filesystem::remove(dir + "/pids.max");
  auto missing = cg->set({.pids_max = 3});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, dir + "/pids.max: No such file or directory");
  // runvm update waits on the usage before it lowers the limit.
  std::ofstream(dir + "/memory.current") << "12345\n";
  EXPECT_EQ(*cg->memory_usage(), 12345);
  std::ofstream(dir + "/memory.current") << "x";
  EXPECT_EQ(cg->memory_usage().error().message, "cannot read " + dir + "/memory.current");
}

class HostCgroup : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE(geteuid() == 0, "root (to make cgroups)");
    auto l = detect_layout();
    RUNVM_REQUIRE(l.ok() && l->with("memory") && l->with("pids"), "cgroupfs with memory and pids");
    layout_ = std::move(*l);
    for (const auto& h : layout_.hierarchies)
      if (h.version == 2)
        subtree_before_ = read_file(h.mountpoint + h.own + "/cgroup.subtree_control");
  }
  Layout layout_;
  std::string subtree_before_;
};

// On this host's own layout (v1 or hybrid here): a relative path lands
// under our own cgroup in every hierarchy, a child joins it everywhere, the
// limits read back, and remove leaves nothing.
TEST_F(HostCgroup, CreateJoinLimitRemove) {
  auto cg = Cgroup::resolve(layout_, unique_name("cjlr"));
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  ASSERT_TRUE(cg->create().ok());
  ASSERT_EQ(cg->dirs().size(), layout_.hierarchies.size());
  for (const auto& d : cg->dirs()) EXPECT_TRUE(exists(d.path)) << d.path;
  // The hybrid cgroup2 mount's delegation is the host's business, left as it was.
  for (const auto& h : layout_.hierarchies) {
    if (layout_.mode == Mode::kHybrid && h.version == 2) {
      EXPECT_EQ(read_file(h.mountpoint + h.own + "/cgroup.subtree_control"), subtree_before_);
    }
  }

  Sleeper child;
  ASSERT_GT(child.pid, 0);
  auto joined = cg->join(child.pid);
  ASSERT_TRUE(joined.ok()) << joined.error().message;
  for (const auto& d : cg->dirs())
    EXPECT_EQ(trimmed(read_file(d.path + "/cgroup.procs")), std::to_string(child.pid)) << d.path;
  // /proc/PID/cgroup names the cgroup in every hierarchy.
  std::string proc = read_file("/proc/" + std::to_string(child.pid) + "/cgroup");
  size_t lines = 0;
  for (size_t p = 0; (p = proc.find("/" + cg->path() + "\n", p)) != std::string::npos; ++p) ++lines;
  EXPECT_EQ(lines, layout_.hierarchies.size()) << proc;

  Limits limits{.memory_bytes = host_memory_limit(256ull << 20, 128), .pids_max = 42};
  if (layout_.with("cpu")) {
    limits.cpu_shares = 2048;
    limits.cpu_quota_us = 50000;
    limits.cpu_period_us = 100000;
  }
  if (layout_.with("cpuset")) limits.cpuset_cpus = "0";
  auto set = cg->set(limits);
  ASSERT_TRUE(set.ok()) << set.error().message;
  bool v1 = layout_.with("memory")->version == 1;
  std::string mem = cg->dir_of("memory") + (v1 ? "/memory.limit_in_bytes" : "/memory.max");
  EXPECT_EQ(trimmed(read_file(mem)), std::to_string(384ll << 20));
  EXPECT_EQ(trimmed(read_file(cg->dir_of("pids") + "/pids.max")), "42");
  if (layout_.with("cpu") && v1) {
    EXPECT_EQ(trimmed(read_file(cg->dir_of("cpu") + "/cpu.cfs_quota_us")), "50000");
    EXPECT_EQ(trimmed(read_file(cg->dir_of("cpu") + "/cpu.shares")), "2048");
    EXPECT_EQ(trimmed(read_file(cg->dir_of("cpu") + "/cpu.cfs_period_us")), "100000");
  }
  if (layout_.with("cpuset")) {
    EXPECT_EQ(trimmed(read_file(cg->dir_of("cpuset") + "/cpuset.cpus")), "0");
  }
  ASSERT_TRUE(cg->set({.memory_bytes = -1, .pids_max = -1}).ok());
  EXPECT_EQ(trimmed(read_file(cg->dir_of("pids") + "/pids.max")), "max");
  if (v1) {
    EXPECT_EQ(trimmed(read_file(mem)), "9223372036854771712");
  }

  EXPECT_EQ(cg->pids(), std::vector<pid_t>{child.pid});
  // Not while the child is in it: the error names it.
  auto busy = cg->remove();
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.error().message.find("processes still in it: " + std::to_string(child.pid)),
            std::string::npos)
      << busy.error().message;
  child.stop();
  EXPECT_TRUE(cg->pids().empty());
  auto removed = cg->remove();
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  for (const auto& d : cg->dirs()) EXPECT_FALSE(exists(d.path)) << d.path;
  EXPECT_TRUE(cg->remove().ok());  // already gone is fine
}

// A v1 cpuset cgroup is born with no cpus or mems; create gives it its
// parent's at every level it makes, or no process could join it.
TEST_F(HostCgroup, NestedPathAndCpusetInheritance) {
  std::string top = unique_name("nested");
  auto cg = Cgroup::resolve(layout_, top + "/inner");
  ASSERT_TRUE(cg.ok());
  auto parent = Cgroup::resolve(layout_, top);
  ASSERT_TRUE(parent.ok());
  ASSERT_TRUE(cg->create().ok());
  Sleeper child;
  auto joined = cg->join(child.pid);
  EXPECT_TRUE(joined.ok()) << joined.error().message;
  if (std::string d = cg->dir_of("cpuset"); !d.empty() && layout_.with("cpuset")->version == 1) {
    EXPECT_NE(read_file(d + "/cpuset.cpus"), "\n");
    EXPECT_EQ(read_file(d + "/cpuset.cpus"), read_file(parent->dir_of("cpuset") + "/cpuset.cpus"));
  }
  child.stop();
  EXPECT_TRUE(cg->remove().ok());
  // Only the leaf goes, as with runc; the parent is the caller's to remove.
  for (const auto& d : parent->dirs()) EXPECT_TRUE(exists(d.path)) << d.path;
  EXPECT_TRUE(parent->remove().ok());
  for (const auto& d : parent->dirs()) EXPECT_FALSE(exists(d.path)) << d.path;
}

// An absolute path is from each hierarchy's top (not joined here: that
// would move the test out of the cgroups it runs in).
TEST_F(HostCgroup, AbsolutePathFromTheTop) {
  auto cg = Cgroup::resolve(layout_, "/" + unique_name("abs"));
  ASSERT_TRUE(cg.ok());
  ASSERT_TRUE(cg->create().ok());
  for (size_t i = 0; i < cg->dirs().size(); ++i) {
    EXPECT_EQ(cg->dirs()[i].path, layout_.hierarchies[i].mountpoint + cg->path());
    EXPECT_TRUE(exists(cg->dirs()[i].path));
  }
  EXPECT_TRUE(cg->remove().ok());
  for (const auto& d : cg->dirs()) EXPECT_FALSE(exists(d.path)) << d.path;
}

// A failure half-way leaves nothing it made behind.
TEST_F(HostCgroup, FailedCreateLeavesNothing) {
  Layout broken = layout_;
  broken.hierarchies.push_back({1, "/nonexistent-cgroup-mount", "/", {"bogus"}, "/"});
  std::string name = unique_name("fail");
  auto cg = Cgroup::resolve(broken, name);
  ASSERT_TRUE(cg.ok());
  auto created = cg->create();
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().message,
            "create cgroup /nonexistent-cgroup-mount/" + name + ": No such file or directory");
  for (const auto& d : cg->dirs()) EXPECT_FALSE(exists(d.path)) << d.path;
}

}  // namespace
}  // namespace runvm::cgroup
