#include "runtime/namespace_paths.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "tests/support/temp_dir.h"

namespace runvm::cli {
namespace {

using oci::NamespaceType;

std::string error_of(const std::vector<oci::Namespace>& ns) {
  auto r = check_namespace_paths(ns);
  return r.ok() ? "" : r.error().message;
}

TEST(NamespacePaths, PathOfAnotherTypeIsRefused) {
  EXPECT_EQ(error_of({{NamespaceType::kPid, ""}, {NamespaceType::kMount, "/proc/self/ns/net"}}),
            "linux.namespaces[1].path: /proc/self/ns/net is a network namespace, not mount");
  EXPECT_EQ(error_of({{NamespaceType::kUts, "/proc/self/ns/cgroup"}}),
            "linux.namespaces[0].path: /proc/self/ns/cgroup is a cgroup namespace, not uts");
  EXPECT_EQ(error_of({{NamespaceType::kIpc, "/etc/passwd"}}),
            "linux.namespaces[0].path: /etc/passwd is not a namespace");
  EXPECT_EQ(error_of({{NamespaceType::kIpc, "/nonexistent"}}),
            "linux.namespaces[0].path: /nonexistent: No such file or directory");
}

TEST(NamespacePaths, NetworkIsJoinedOtherHostNamespacesAreRefused) {
  auto net = check_namespace_paths({{NamespaceType::kNetwork, "/proc/self/ns/net"}});
  ASSERT_TRUE(net.ok()) << net.error().message;
  EXPECT_TRUE(net->valid());
  auto none = check_namespace_paths({{NamespaceType::kNetwork, ""}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->valid());
  EXPECT_EQ(error_of({{NamespaceType::kIpc, "/proc/self/ns/ipc"}}),
            "linux.namespaces[0].path: cannot join the host's ipc namespace /proc/self/ns/ipc: a "
            "runvm container has its guest kernel's own");
}

TEST(NamespacePaths, ARunvmShimsNamespaceIsAccepted) {
  // A process whose executable is named runvm-shim stands for a container.
  testing::TempDir dir("runvm-ns");
  const std::string shim = dir / "runvm-shim";
  std::filesystem::copy_file("/bin/sleep", shim);
  std::filesystem::permissions(shim, std::filesystem::perms::owner_all);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl(shim.c_str(), "runvm-shim", "30", nullptr);
    _exit(127);
  }
  std::string path = "/proc/" + std::to_string(pid) + "/ns/ipc";
  // Until execve happened the child is still this test binary.
  for (int i = 0; i < 200 && namespace_owner_exe(path) != "runvm-shim"; ++i) usleep(10000);
  EXPECT_EQ(namespace_owner_exe(path), "runvm-shim");
  EXPECT_EQ(error_of({{NamespaceType::kIpc, path},
                      {NamespaceType::kUts, "/proc/" + std::to_string(pid) + "/ns/uts"}}),
            "");
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(namespace_owner_exe("/proc/self/ns/ipc"), "");
  EXPECT_EQ(namespace_owner_exe("/run/netns/x"), "");
}

}  // namespace
}  // namespace runvm::cli
