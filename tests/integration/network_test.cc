// Networking end to end (issue 10): a container whose config.json names a
// network namespace gets that namespace's interface in its VM, through a tap
// joined to the interface by tc mirred. The namespace is made here, as a
// CNI plugin would: a veth whose peer sits in a second namespace standing
// for the bridge. Needs root.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/bundle_fixture.h"
#include "tests/integration/cni_netns_fixture.h"

namespace runvm {
namespace {

using nl::testing::TestNetns;
using testing::Bundle;
using testing::BundleSpec;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

class NetworkTest : public ::testing::Test, protected testing::CniNetns {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_VM_ASSETS();
    ASSERT_EQ(geteuid(), 0u) << "needs root (network namespaces)";
    ASSERT_NO_FATAL_FAILURE(make_cni_netns());
  }
  std::vector<std::string> runvm(std::vector<std::string> args) {
    auto argv = testing::runvm_argv(root_.path(), args);
    return argv;
  }
  // `runvm create` with /dev/null as stdio (the shim keeps create's stdio,
  // the container's, so nothing waits for it to close); the shim's pid, or
  // 0 (with a test failure).
  pid_t create_detached(const Bundle& b, const std::string& id) {
    std::string pid_file = root_.path() + "/" + id + ".pid";
    pid_t pid = ::fork();
    if (pid < 0) return 0;
    if (pid == 0) {
      int null = ::open("/dev/null", O_RDWR);
      for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
      auto argv = runvm({"create", "--pid-file", pid_file, "-b", b.dir(), id});
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
    int status = -1;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ADD_FAILURE() << "runvm create " << id << ": status " << status;
      return 0;
    }
    std::ifstream in(pid_file);
    pid_t shim = 0;
    in >> shim;
    return shim;
  }

  // The command lines of live processes that mention `needle` (a shim or
  // QEMU of ours names the container's state dir under root_).
  static std::string processes_naming(const std::string& needle) {
    std::string found;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in(e.path() / "cmdline");
      std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      if (cmdline.find(needle) != std::string::npos && name != std::to_string(::getpid()))
        found += name + ": " + cmdline + "\n";
    }
    return found;
  }

  TempDir root_;
};

TEST_F(NetworkTest, TheGuestHasTheNamespacesInterfaceAndReachesTheGateway) {
  Bundle b({.args = {"busybox", "sh", "-c",
                     "busybox ip -o addr show dev eth0; busybox ip route; busybox ip -6 route; "
                     "busybox ping -c 1 -W 10 10.99.0.1 >/dev/null && echo ping4-ok; "
                     "busybox ping -c 1 -W 10 fd99::1 >/dev/null && echo ping6-ok"},
            .config_json = network_json()});
  auto r = run_command(runvm({"run", "-b", b.dir(), "net1"}));
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  EXPECT_NE(r.out.find("inet 10.99.0.2/24"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inet6 fd99::2/64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("default via 10.99.0.1 dev eth0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ping4-ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ping6-ok"), std::string::npos) << r.out;
  // delete (run's end) removed the tap and the filters.
  EXPECT_FALSE(nl::testing::ifindex(container_, "tap0_runvm").ok());
  EXPECT_FALSE(has_ingress("eth0"));
}

TEST_F(NetworkTest, AKilledShimLeavesNothingThatBreaksTheNextContainer) {
  Bundle b({.args = {"sleep", "600"}, .config_json = network_json()});
  pid_t shim = create_detached(b, "victim");
  ASSERT_GT(shim, 0);
  ASSERT_TRUE(has_ingress("eth0"));
  // SIGKILL: no teardown; QEMU dies with it (PR_SET_PDEATHSIG).
  ASSERT_EQ(::kill(shim, SIGKILL), 0);
  for (int i = 0; i < 100 && ::kill(shim, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (void)run_command(runvm({"delete", "--force", "victim"}));

  Bundle next({.args = {"busybox", "ping", "-c", "1", "-W", "10", "10.99.0.1"},
               .config_json = network_json()});
  auto r = run_command(runvm({"run", "-b", next.dir(), "next"}));
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.out << r.err;
  EXPECT_FALSE(has_ingress("eth0"));
}

// Two VMs cannot share one interface: a second container naming a namespace
// whose interface a running container's VM holds (podman run --network
// container:X) is refused in one line, and the first keeps its network.
TEST_F(NetworkTest, ANamespaceARunningVmHoldsIsRefusedAndKeepsItsNetwork) {
  Bundle first_bundle({.args = {"sleep", "600"}, .config_json = network_json()});
  pid_t shim = create_detached(first_bundle, "first");
  ASSERT_GT(shim, 0);
  struct DeleteAtExit {
    std::vector<std::string> argv;
    ~DeleteAtExit() { (void)run_command(argv); }
  } delete_at_exit{runvm({"delete", "--force", "first"})};
  ASSERT_EQ(run_command(runvm({"start", "first"})).status, 0);

  Bundle second({.args = {"true"}, .config_json = network_json()});
  auto r = run_command(runvm({"run", "-b", second.dir(), "second"}));
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1) << r.status;
  EXPECT_NE(r.err.find("in use by the VM of another runvm container (shim pid " +
                       std::to_string(shim) + ")"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(processes_naming(root_.path() + "/second"), "");

  // The first VM's path through its tap is intact.
  auto ping =
      run_command(runvm({"exec", "first", "busybox", "ping", "-c", "1", "-W", "10", "10.99.0.1"}));
  EXPECT_EQ(ping.status, 0) << ping.out << ping.err;
  EXPECT_TRUE(has_ingress("eth0"));
}

// A "network" entry without a path: the shim and QEMU get a fresh namespace
// of their own, as runc's process would, not the host's. What is added to
// it after create (as `ctr run --cni` does through the pid) cannot reach
// the booted VM: start says so instead of running without that network.
TEST_F(NetworkTest, AFreshNamespaceIsTheShimsOwnAndStartRefusesInterfacesAddedAfterCreate) {
  Bundle b(
      {.args = {"sleep", "600"}, .config_json = R"("linux":{"namespaces":[{"type":"network"}]})"});
  pid_t shim = create_detached(b, "fresh");
  ASSERT_GT(shim, 0);
  // Also when an assertion below ends the test early: no shim or QEMU left.
  struct DeleteAtExit {
    std::vector<std::string> argv;
    ~DeleteAtExit() { (void)run_command(argv); }
  } delete_at_exit{runvm({"delete", "--force", "fresh"})};
  struct stat ours, its;
  ASSERT_EQ(::stat("/proc/self/ns/net", &ours), 0);
  ASSERT_EQ(::stat(("/proc/" + std::to_string(shim) + "/ns/net").c_str(), &its), 0);
  ASSERT_NE(ours.st_ino, its.st_ino) << "the shim runs in the host's network namespace";
  auto ns = TestNetns::open("/proc/" + std::to_string(shim) + "/ns/net");
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  Status s = nl::testing::add_veth(*ns, "eth0", "", 1500, outside_, "late0");
  ASSERT_TRUE(s.ok()) << s.error().message;

  auto r = run_command(runvm({"start", "fresh"}));
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1) << r.status;
  EXPECT_EQ(r.err.rfind("runvm: start fresh: the container's network namespace got interfaces "
                        "after create (eth0): ",
                        0),
            0u)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_command(runvm({"delete", "--force", "fresh"}));
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.err;
  for (int i = 0; i < 100 && ::kill(shim, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(processes_naming(root_.path()), "");
}

// Without interfaces added, the fresh namespace changes nothing: the
// container starts and has loopback only.
TEST_F(NetworkTest, ANewEmptyNamespaceGivesLoopbackOnly) {
  Bundle b({.args = {"busybox", "ip", "-o", "link"},
            .config_json = R"("linux":{"namespaces":[{"type":"network"}]})"});
  auto r = run_command(runvm({"run", "-b", b.dir(), "lo-only"}));
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  EXPECT_NE(r.out.find(": lo:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("eth0"), std::string::npos) << r.out;
}

// Bad input fails create with one line and exit 1, before any shim or QEMU:
// nothing of the container is left (no state, no process naming its root).
TEST_F(NetworkTest, ABadNamespacePathIsOneErrorAndLeavesNothing) {
  std::string file = root_.path() + "-not-a-netns";
  { std::ofstream(file) << "x"; }
  struct Case {
    std::string path, error;
  } cases[] = {
      {"/nonexistent/netns", "/nonexistent/netns: No such file or directory"},
      {file, file + " is not a namespace"},
      {"/proc/self/ns/pid", "/proc/self/ns/pid is a pid namespace, not network"},
  };
  for (const auto& c : cases) {
    Bundle b({.args = {"true"},
              .config_json =
                  R"("linux":{"namespaces":[{"type":"network","path":")" + c.path + R"("}]})"});
    auto r = run_command(runvm({"run", "-b", b.dir(), "bad"}));
    EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1) << c.path << " " << r.status;
    EXPECT_EQ(r.err, "runvm: run bad: config.json: linux.namespaces[0].path: " + c.error + "\n");
    EXPECT_EQ(run_command(runvm({"list", "-q"})).out, "") << c.path;
    EXPECT_EQ(processes_naming(root_.path()), "") << c.path;
  }
  ::unlink(file.c_str());
}

// A namespace the shim cannot take over (more interfaces than the protocol
// carries) fails in the shim, before QEMU: one line, no tap, no filter.
TEST_F(NetworkTest, ANamespaceTooBigToTakeOverIsOneErrorAndLeavesNothing) {
  for (int i = 1; i <= 16; ++i) {
    Status s = nl::testing::add_veth(container_, "eth" + std::to_string(i), "", 1500, outside_,
                                     "peer" + std::to_string(i));
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  Bundle b({.args = {"true"}, .config_json = network_json()});
  auto r = run_command(runvm({"run", "-b", b.dir(), "big"}));
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1) << r.status;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("interfaces"), std::string::npos) << r.err;
  EXPECT_EQ(run_command(runvm({"list", "-q"})).out, "");
  EXPECT_EQ(processes_naming(root_.path()), "");
  EXPECT_FALSE(nl::testing::ifindex(container_, "tap0_runvm").ok());
  EXPECT_FALSE(has_ingress("eth0"));
}

}  // namespace
}  // namespace runvm
