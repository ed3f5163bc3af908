// Networking of containers claimed from the warm pool (issue 14,
// runvm-pool(8)): a unit boots with one NIC on a tap in a network namespace
// of its own; the claim moves the tap into the container's namespace and
// joins it to the namespace's interface by tc mirred, as a cold start does,
// and the guest takes the interface's MAC, addresses and routes. The
// namespace is made here as a CNI plugin would (network_test.cc): a veth
// whose peer sits in a second namespace standing for the host's bridge.
// Needs root.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "shim/client/control.h"
#include "spec/base/netlink_test_util.h"
#include "spec/base/unique_fd.h"
#include "tests/integration/cni_netns_fixture.h"
#include "tests/integration/pool_fixture.h"
#include "tests/integration/runtime_fixture.h"

namespace runvm {
namespace {

using nl::testing::TestNetns;
using testing::Bundle;
using testing::read_file;
using testing::run_command;

class PoolNetworkTest : public testing::RuntimeTest, protected testing::CniNetns {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    ASSERT_EQ(geteuid(), 0u) << "needs root (network namespaces)";
    ASSERT_NO_FATAL_FAILURE(make_cni_netns());
    std::ofstream(config_) << "[vm]\nmemory_mib = 256\n[pool]\nsize = 1\n";
  }
  void TearDown() override {
    for (int i = 0; i < 6000 && !fills_running().empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(fills_running().empty());
    cli({"pool", "drain"});
    RuntimeTest::TearDown();
  }
  std::vector<pid_t> fills_running() {
    return testing::processes_with_cmdline({root_.path(), std::string("pool\0fill", 9)});
  }
  testing::CommandResult cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config_});
    return runvm(args);
  }
  std::vector<std::string> cli_argv(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config_});
    return testing::runvm_argv(root_.path(), args);
  }
  pid_t unit_shim() { return testing::only_unit_shim(root_.path()); }

  // The only unit's dir.
  std::filesystem::path unit_dir() {
    std::error_code ec;
    for (const auto& cls : std::filesystem::directory_iterator(root_.path() + "/@pool", ec)) {
      if (!cls.is_directory()) continue;
      for (const auto& unit : std::filesystem::directory_iterator(cls.path())) return unit.path();
    }
    return {};
  }
  // An argument of a process's command line: the one after `flag`.
  static std::string arg_after(pid_t pid, const std::string& flag) {
    std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    std::vector<std::string> args;
    for (size_t at = 0; at < cmdline.size();) {
      size_t end = cmdline.find('\0', at);
      if (end == std::string::npos) end = cmdline.size();
      args.push_back(cmdline.substr(at, end - at));
      at = end + 1;
    }
    for (size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == flag) return args[i + 1];
    return "";
  }

  std::string config_ = files_.path() + "/runvm.toml";
};

// A claim the unit refuses after its tap moved into the claimer's network
// namespace (here the member's slot in the unit's share is taken) ends the
// unit by itself: its claimer may be gone right then (a create killed with
// SIGKILL), and nothing else would end it, unconfined, before a drain. This
// test is that claimer: it takes the unit and asks for the member as create
// does, reads the refusal, and does nothing more.
TEST_F(PoolNetworkTest, AClaimRefusedAfterTheTapMovedEndsTheUnitByItself) {
  ASSERT_EQ(cli({"pool", "fill"}).status, 0);
  pid_t shim = unit_shim();
  std::filesystem::path unit = unit_dir();
  ASSERT_GT(shim, 0);
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, shim, 0)));
  ASSERT_TRUE(pidfd);
  std::string socket = arg_after(shim, "--socket-dir") + "/shim.sock";
  std::ofstream(unit / "owner") << "gone";  // taken, as create takes it
  // The member's slot, taken (by a file: the unit's shim removes its dirs
  // flat, and a non-empty directory would stay).
  std::ofstream(unit / "pod" / "gone") << "";
  ASSERT_TRUE(std::filesystem::exists(unit / "pod" / "gone"));
  std::string state_dir = files_.path() + "/gone";
  ASSERT_EQ(::mkdir(state_dir.c_str(), 0700), 0);
  Bundle b({.args = {"true"}, .config_json = network_json()});
  auto member = control::open_member(socket, "gone", {b.dir(), state_dir, {}}, 60000);
  ASSERT_FALSE(member.ok());
  EXPECT_NE(member.error().message.find("mkdir"), std::string::npos) << member.error().message;
  // The unit's shim ends, its tap and filters with it, with no one asking.
  pollfd p{pidfd.get(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 60000), 1) << "the refused unit still runs";
  // What it made, it removed (flat: nothing below a member's slot): only
  // the slot this test put in its share is left.
  std::set<std::string> left;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(unit, ec))
    left.insert(std::filesystem::relative(e.path(), unit).string());
  EXPECT_EQ(left, (std::set<std::string>{"pod", "pod/gone"}));
  EXPECT_FALSE(nl::testing::ifindex(container_, "tap0_runvm").ok());
  EXPECT_FALSE(has_ingress("eth0"));
}

TEST_F(PoolNetworkTest, AClaimedContainerHasTheNamespacesInterfaceAndReachesTheGateway) {
  ASSERT_EQ(cli({"pool", "fill"}).status, 0);
  // An idle unit's tap is in a namespace of the unit's own: not the host's.
  pid_t idle = testing::only_unit_shim(root_.path());
  ASSERT_GT(idle, 0);
  struct stat ours, its;
  ASSERT_EQ(::stat("/proc/self/ns/net", &ours), 0);
  ASSERT_EQ(::stat(("/proc/" + std::to_string(idle) + "/ns/net").c_str(), &its), 0);
  EXPECT_NE(ours.st_ino, its.st_ino) << "the idle unit runs in the host's network namespace";
  EXPECT_NE(read_file("/proc/" + std::to_string(idle) + "/net/dev").find("tap0_runvm:"),
            std::string::npos);
  EXPECT_EQ(read_file("/proc/self/net/dev").find("tap0_runvm:"), std::string::npos);

  Bundle b({.args = {"busybox", "sh", "-c",
                     "busybox ip -o addr show dev eth0; busybox ip -o link show dev eth0; "
                     "busybox ip route; busybox ip -6 route; "
                     "busybox ping -c 1 -W 10 10.99.0.1 >/dev/null && echo ping4-ok; "
                     "busybox ping -c 1 -W 10 fd99::1 >/dev/null && echo ping6-ok"},
            .config_json = network_json()});
  auto r = run_command(cli_argv({"run", "--keep", "-b", b.dir(), "pnet"}));
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.out << r.err;
  EXPECT_FALSE(testing::pool_unit_of(root_.path(), "pnet").empty()) << "cold start: " << r.err;
  EXPECT_NE(r.out.find("inet 10.99.0.2/24"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inet6 fd99::2/64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("link/ether 02:42:0a:63:00:02"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("default via 10.99.0.1 dev eth0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ping4-ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ping6-ok"), std::string::npos) << r.out;
  EXPECT_EQ(cli({"delete", "pnet"}).status, 0);
  // The unit ended with its container: its tap and filters are gone.
  EXPECT_FALSE(nl::testing::ifindex(container_, "tap0_runvm").ok());
  EXPECT_FALSE(has_ingress("eth0"));
}

// While a claimed unit holds the namespace's interface, a second container
// naming that namespace is refused as it is next to a cold one
// (network_test.cc): the unit's shim runs in the namespace it took.
TEST_F(PoolNetworkTest, ANamespaceAClaimedUnitHoldsIsRefusedAndKilledUnitLeavesNothing) {
  ASSERT_EQ(cli({"pool", "fill"}).status, 0);
  pid_t unit = testing::only_unit_shim(root_.path());
  ASSERT_GT(unit, 0);
  Bundle first({.args = {"sleep", "600"}, .config_json = network_json()});
  // Its stdio to files: the container's pid keeps create's (run_command
  // would wait for its end).
  pid_t create =
      testing::spawn_to_files(cli_argv({"create", "-b", first.dir(), "first"}),
                              files_.path() + "/first.out", files_.path() + "/first.err");
  int status = -1;
  ASSERT_EQ(waitpid(create, &status, 0), create);
  ASSERT_EQ(status, 0) << read_file(files_.path() + "/first.err");
  ASSERT_FALSE(testing::pool_unit_of(root_.path(), "first").empty());
  EXPECT_TRUE(has_ingress("eth0"));
  EXPECT_TRUE(nl::testing::ifindex(container_, "tap0_runvm").ok());
  // Claimed, the unit's control thread confined itself (docs/security.md):
  // a pod sandbox's capabilities and CAP_NET_ADMIN for its tap's end.
  std::string task = read_file("/proc/" + std::to_string(unit) + "/status");
  EXPECT_NE(task.find("Seccomp:\t2\n"), std::string::npos) << task;
  EXPECT_NE(task.find("CapEff:\t0000000000a01026\n"), std::string::npos) << task;
  // The pool is drained first: the second container would claim the refill.
  for (int i = 0; i < 6000 && !fills_running().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  cli({"pool", "drain"});
  std::ofstream(config_) << "[vm]\nmemory_mib = 256\n[pool]\nsize = 0\n";

  Bundle second({.args = {"true"}, .config_json = network_json()});
  auto r = cli({"run", "-b", second.dir(), "second"});
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1) << r.status;
  EXPECT_NE(r.err.find("in use by the VM of another runvm container (shim pid " +
                       std::to_string(unit) + ")"),
            std::string::npos)
      << r.err;

  // SIGKILL of the claimed unit's shim: no teardown, QEMU follows it. What
  // it left (the ingress qdisc) does not break the next container.
  ASSERT_EQ(::kill(unit, SIGKILL), 0);
  for (int i = 0; i < 500 && ::kill(unit, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(cli({"delete", "--force", "first"}).status, 0);
  for (int i = 0; i < 500 && !testing::qemu_processes_mentioning(root_.path()).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(nl::testing::ifindex(container_, "tap0_runvm").ok());
  Bundle next({.args = {"busybox", "ping", "-c", "1", "-W", "10", "10.99.0.1"},
               .config_json = network_json()});
  r = cli({"run", "-b", next.dir(), "next"});
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.out << r.err;
  EXPECT_FALSE(has_ingress("eth0"));
}

// A container with loopback only sees only lo, as a cold one does: the
// unit's NIC left the guest's namespace while it was idle.
TEST_F(PoolNetworkTest, ALoopbackOnlyClaimSeesOnlyLoopback) {
  ASSERT_EQ(cli({"pool", "fill"}).status, 0);
  auto empty = TestNetns::create();
  ASSERT_TRUE(empty.ok());
  Bundle b({.args = {"busybox", "ip", "-o", "link"},
            .config_json = R"("linux":{"namespaces":[{"type":"network","path":")" + empty->path() +
                           R"("}]})"});
  auto r = run_command(cli_argv({"run", "--keep", "-b", b.dir(), "lo"}));
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  EXPECT_FALSE(testing::pool_unit_of(root_.path(), "lo").empty()) << "cold start: " << r.err;
  EXPECT_NE(r.out.find(": lo:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("link/ether"), std::string::npos) << r.out;  // lo and sit0 only
  EXPECT_EQ(cli({"delete", "lo"}).status, 0);
}

// A unit's VM has one NIC: a namespace with two interfaces takes the cold
// path, and the idle unit stays in the pool.
TEST_F(PoolNetworkTest, TwoInterfacesTakeTheColdPath) {
  ASSERT_TRUE(nl::testing::add_veth(container_, "eth1", "", 1500, outside_, "peer1").ok());
  ASSERT_EQ(cli({"pool", "fill"}).status, 0);
  pid_t unit = testing::only_unit_shim(root_.path());
  Bundle b({.args = {"busybox", "ip", "-o", "link"}, .config_json = network_json()});
  auto r = cli({"--debug", "run", "--keep", "-b", b.dir(), "two"});
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  EXPECT_TRUE(testing::pool_unit_of(root_.path(), "two").empty());
  EXPECT_NE(r.out.find("eth1"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("more than one interface"), std::string::npos) << r.err;
  EXPECT_EQ(cli({"delete", "two"}).status, 0);
  EXPECT_EQ(testing::only_unit_shim(root_.path()), unit);
  EXPECT_EQ(::kill(unit, 0), 0);
}

}  // namespace
}  // namespace runvm
