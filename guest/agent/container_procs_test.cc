#include "guest/agent/container_procs.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace runvm::agent {
namespace {

namespace fs = std::filesystem;

bool has(const std::vector<pid_t>& pids, pid_t pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

// A directory standing in for a cgroup subtree: the container may make
// cgroups below its own, and may write nothing we would trust as a pid.
TEST(ContainerProcs, CgroupPidsWalkTheSubtree) {
  char tmpl[] = "/tmp/runvm-procs-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  fs::create_directories(root + "/a/b");
  fs::create_directories(root + "/c");
  std::ofstream(root + "/cgroup.procs") << "10\n11\n";
  std::ofstream(root + "/a/cgroup.procs") << "12\n";
  std::ofstream(root + "/a/b/cgroup.procs") << "13\n-4\n0\nx14\n15x\n99999999999999\n";
  // c has no cgroup.procs (removed meanwhile): skipped.
  auto pids = cgroup_pids(root);
  ASSERT_TRUE(pids.ok()) << pids.error().message;
  std::sort(pids->begin(), pids->end());
  EXPECT_EQ(*pids, (std::vector<pid_t>{10, 11, 12, 13}));
  EXPECT_FALSE(cgroup_pids(root + "/missing").ok());
  fs::remove_all(root);
}

// A subtree whose cgroup.events says it holds no process is not listed: the
// pid in its cgroup.procs (our child here) is signalled only once it says
// it is populated.
TEST(ContainerProcs, SignalAllSkipsAnUnpopulatedCgroup) {
  char tmpl[] = "/tmp/runvm-procs-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  std::ofstream(root + "/cgroup.procs") << child << "\n";
  std::ofstream(root + "/cgroup.events") << "populated 0\nfrozen 0\n";
  EXPECT_TRUE(signal_all(ProcessScope{root, std::nullopt}, SIGKILL).ok());
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, WNOHANG), 0) << "signalled though unpopulated";
  std::ofstream(root + "/cgroup.events") << "populated 1\nfrozen 0\n";
  EXPECT_TRUE(signal_all(ProcessScope{root, std::nullopt}, SIGKILL).ok());
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  fs::remove_all(root);
}

TEST(ContainerProcs, MountNamespaceOfOurselves) {
  auto ns = mount_namespace_of(::getpid());
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  auto pids = namespace_pids(*ns);
  ASSERT_TRUE(pids.ok()) << pids.error().message;
  EXPECT_TRUE(has(*pids, ::getpid()));
  auto none = namespace_pids(NamespaceId{0, 1});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// A procfs of another PID namespace would name other processes: refused.
TEST(ContainerProcs, ForeignProcIsRefused) {
  char tmpl[] = "/tmp/runvm-procs-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  fs::create_directory_symlink(std::to_string(::getpid() + 1), dir + "/self");
  auto r = namespace_pids(NamespaceId{1, 1}, dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not the procfs of the agent's PID namespace"),
            std::string::npos);
  EXPECT_FALSE(mount_namespace_of(1, dir).ok());
  EXPECT_FALSE(signal_all(ProcessScope{"", NamespaceId{1, 1}}, 0, dir).ok());
  EXPECT_FALSE(signal_all(ProcessScope{}, 0).ok()) << "no rule: nothing to go by";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace runvm::agent
