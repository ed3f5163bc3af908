// `runvm run` and friends on real bundles: the process runs in its own
// microVM with the bundle's rootfs on our virtio-fs, stdio on separate
// vsock streams, and runvm exits the way the process did.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::BundleSpec;
using testing::read_file;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override { RUNVM_REQUIRE_VM_ASSETS(); }
  // runvm with our private --root.
  std::vector<std::string> runvm(std::vector<std::string> args) {
    auto argv = testing::runvm_argv(root_.path(), args);
    return argv;
  }
  testing::CommandResult run(const Bundle& b, const std::string& id,
                             const std::string& input = "") {
    return run_command(runvm({"run", "-b", b.dir(), id}), input);
  }
  TempDir root_;
};

TEST_F(ContainerTest, StdoutStderrAndExitCodeStaySeparate) {
  Bundle b({.args = {"sh", "-c", "echo out; echo err >&2; exit 3"}});
  auto r = run(b, "c1");
  ASSERT_TRUE(WIFEXITED(r.status)) << r.status << r.err;
  EXPECT_EQ(WEXITSTATUS(r.status), 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_TRUE(root_.entries().empty()) << "run left state behind";
}

TEST_F(ContainerTest, DeathBySignalIsReRaised) {
  Bundle b({.args = {"sh", "-c", "kill -TERM $$"}});
  auto r = run(b, "sig");
  ASSERT_TRUE(WIFSIGNALED(r.status)) << r.status << r.err;
  EXPECT_EQ(WTERMSIG(r.status), SIGTERM);
}

TEST_F(ContainerTest, StdinIsPipedAndEofPropagates) {
  Bundle b({.args = {"cat"}});
  std::string input;
  for (int i = 0; i < 2000; ++i) input += "line " + std::to_string(i) + "\n";
  auto r = run(b, "cat", input);
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  EXPECT_EQ(r.out, input);
}

TEST_F(ContainerTest, HundredMebibytesOfOutputAreByteExact) {
  Bundle b({.args = {"cat", "/big"}});
  std::string big(100u << 20, '\0');
  std::mt19937_64 rng(getpid());
  for (size_t i = 0; i < big.size(); i += 8) {
    uint64_t v = rng();
    memcpy(&big[i], &v, 8);
  }
  std::ofstream(b.rootfs() + "/big", std::ios::binary) << big;
  auto r = run(b, "big");
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  ASSERT_EQ(r.out.size(), big.size());
  EXPECT_TRUE(r.out == big) << "output differs from the file";
}

// The output is more than the host side holds (our pipe, the shim's pump,
// its socket, the vsock device's 256 KiB): the guest waits for credit, and
// closes its stream with some 200 KB still in the device. The reader takes
// at most 20 KB/s, so that takes it over 8 s: the guest kernel's close
// timeout (VSOCK_CLOSE_TIMEOUT) resets the stream first, every time. As
// under runc, nothing is lost (the device dropped what it held at the RST:
// 93599 of 588895 bytes at 16 KB/s).
TEST_F(ContainerTest, OutputReachesAReaderSlowerThanTheGuestsCloseTimeout) {
  Bundle b({.args = {"sh", "-c", "seq 1 100000; exit 3"}});
  auto r = testing::run_into_slow_reader(runvm({"run", "-b", b.dir(), "slowreader"}));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.code, "3\n");
  EXPECT_TRUE(r.out == testing::seq_output(100000)) << r.out.size() << " bytes, not seq's";
  EXPECT_TRUE(root_.entries().empty()) << "run left state behind";
}

TEST_F(ContainerTest, FilesCreatedInTheContainerLandInTheRootfs) {
  Bundle b({.args = {"sh", "-c",
                     "echo hello > /made; chmod 640 /made; chown 1000:1001 /made; mkdir -p /d/e"}});
  auto r = run(b, "files");
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  struct stat st;
  ASSERT_EQ(stat((b.rootfs() + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  std::ifstream in(b.rootfs() + "/made");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "hello\n");
  EXPECT_TRUE(std::filesystem::is_directory(b.rootfs() + "/d/e"));
}

TEST_F(ContainerTest, EnvCwdAndUserAreHonoured) {
  Bundle b({.args = {"sh", "-c", "echo $FOO; pwd; id -u; id -g; touch mine; hostname"},
            .env = {"PATH=/bin", "FOO=bar baz"},
            .cwd = "/work/dir",
            .uid = 1000,
            .gid = 1000,
            .hostname = "vmhost"});
  std::filesystem::create_directories(b.rootfs() + "/work/dir");
  chown((b.rootfs() + "/work/dir").c_str(), 1000, 1000);
  auto r = run(b, "env");
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  EXPECT_EQ(r.out, "bar baz\n/work/dir\n1000\n1000\nvmhost\n");
  struct stat st;
  ASSERT_EQ(stat((b.rootfs() + "/work/dir/mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);  // created with the process's credentials
}

// No HOME in the env (or an empty one): the process's passwd line's home,
// as runc 1.1.5 sets it for these files (checked with bundles of these
// lines): the uid field read as a number ("007" is uid 7), and the first
// matching line's home even when empty (HOME set, to "").
TEST_F(ContainerTest, HomeFromPasswdAsRunc) {
  struct Case {
    const char* passwd;
    std::vector<std::string> env;
    const char* want;
  };
  const Case cases[] = {
      {"root:x:0:0::/root:/bin/sh\nbond:x:007:7::/home/bond:/bin/sh\n",
       {"PATH=/bin"},
       "[/home/bond] 1 PATH=\n"},
      {"e:x:7:0:::/bin/sh\nseven:x:7:0::/h7:/bin/sh\n", {"PATH=/bin"}, "[] 1 PATH=\n"},
      {"root:x:0:0::/root:/bin/sh\n", {"PATH=/bin"}, "[/] 1 PATH=\n"},
      {"seven:x:7:0::/h7:/bin/sh\n", {"PATH=/bin", "HOME="}, "[/h7] 1 PATH=\n"},
      {"seven:x:7:0::/h7:/bin/sh\n", {"PATH=/bin", "HOME=/mine"}, "[/mine] 1 PATH=\n"},
      // An empty HOME is replaced where it stands (runc's env order).
      {"seven:x:7:0::/h7:/bin/sh\n", {"HOME=", "PATH=/bin"}, "[/h7] 1 HOME=\n"},
  };
  int i = 0;
  for (const auto& c : cases) {
    // $HOME, how many HOME= the process got, and its first variable as exec'd.
    Bundle b({.args = {"sh", "-c",
                       "echo \"[$HOME] $(env | grep -c ^HOME=) "
                       "$(tr '\\0' '\\n' </proc/$$/environ | head -n1 | cut -c1-5)\""},
              .env = c.env,
              .uid = 7});
    std::ofstream(b.rootfs() + "/etc/passwd") << c.passwd;
    auto r = run(b, "home" + std::to_string(i++));
    ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
    EXPECT_EQ(r.out, c.want) << c.passwd << c.env.back();
  }
}

// A /etc/passwd runc 1.1.5 refuses (a line of 64 KiB or more, anywhere:
// its bufio.Scanner's "token too long") fails the create when the process
// needs its HOME, with one line naming the file; nothing is left.
TEST_F(ContainerTest, PasswdWithALineOf64KiBFailsTheCreateAsRunc) {
  Bundle b({.args = {"true"}, .env = {"PATH=/bin"}});
  std::ofstream(b.rootfs() + "/etc/passwd") << "root:x:0:0::/root:/bin/sh\n"
                                            << std::string(65536, 'x') << "\n";
  TempDir io;
  std::string cmd;
  for (auto& a : runvm({"create", "-b", b.dir(), "pw"})) cmd += a + " ";
  int status = system((cmd + "</dev/null >" + io.path() + "/out 2>" + io.path() + "/err").c_str());
  std::string err = read_file(io.path() + "/err");
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 1) << err;
  EXPECT_NE(err.find("unable to find user 0: /etc/passwd: a line of 64 KiB or more"),
            std::string::npos)
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_TRUE(root_.entries().empty());
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
}

TEST_F(ContainerTest, UnknownBinaryFailsLikeRunc) {
  Bundle b({.args = {"nonexistent-binary"}});
  auto r = run(b, "nobin");
  ASSERT_TRUE(WIFEXITED(r.status)) << r.status;
  EXPECT_NE(WEXITSTATUS(r.status), 0);
  EXPECT_NE(r.err.find("exec: \"nonexistent-binary\": executable file not found in $PATH"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(root_.entries().empty());
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
}

// runc's default spec: a read-only root, here one without the directories
// the mounts need. They are made (as runc makes them) before the root turns
// read-only; then writes fail in the guest and the host directory is sealed.
TEST_F(ContainerTest, ReadonlyRootGetsItsMountpointsThenRefusesWrites) {
  Bundle b({.args = {"sh", "-c", "ls -d /proc/self /sys/kernel /mnt/t; touch /new"},
            .cwd = "/work/here",
            .config_json = R"("mounts":[{"destination":"/mnt/t","type":"tmpfs","source":"tmpfs"}])",
            .readonly_root = true});
  for (const char* d : {"proc", "sys", "dev", "tmp"}) std::filesystem::remove(b.rootfs() + "/" + d);
  auto r = run(b, "ro");
  ASSERT_TRUE(WIFEXITED(r.status)) << r.status << r.err;
  EXPECT_EQ(WEXITSTATUS(r.status), 1) << r.err;
  EXPECT_EQ(r.out, "/mnt/t\n/proc/self\n/sys/kernel\n");  // ls sorts
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::is_directory(b.rootfs() + "/work/here"));  // cwd made too
  EXPECT_FALSE(std::filesystem::exists(b.rootfs() + "/new"));
}

// As in a fresh network namespace under runc: lo exists and is up.
TEST_F(ContainerTest, LoopbackIsUp) {
  Bundle b({.args = {"sh", "-c", "cat /sys/class/net/lo/flags; busybox ip -o -4 addr show lo"}});
  auto r = run(b, "lo");
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  EXPECT_EQ(r.out.substr(0, 4), "0x9\n") << r.out;  // IFF_UP | IFF_LOOPBACK
  EXPECT_NE(r.out.find("inet 127.0.0.1/8"), std::string::npos) << r.out;
}

// The rootfs share reads ahead 1 MiB (container_root.cc), so an executable
// comes over in few READ round trips. Its bdi is named by the device number.
TEST_F(ContainerTest, RootfsShareReadsAheadOneMebibyte) {
  Bundle b(
      {.args = {
           "sh", "-c",
           "d=$(stat -c %d /); "
           "cat /sys/class/bdi/$(( (d >> 8) & 0xfff )):$(( (d & 0xff) | ((d >> 12) & 0xfff00) ))"
           "/read_ahead_kb"}});
  auto r = run(b, "ra");
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  EXPECT_EQ(r.out, "1024\n");
}

// A bind mount is a share of its own (its own bdi), widened the same way.
TEST_F(ContainerTest, BindMountShareReadsAheadOneMebibyte) {
  TempDir data;
  Bundle b({.args = {"sh", "-c",
                     "d=$(stat -c %d /data); "
                     "cat /sys/class/bdi/$(( (d >> 8) & 0xfff )):$(( (d & 0xff) | ((d >> 12) & "
                     "0xfff00) ))/read_ahead_kb; "
                     "[ \"$d\" != \"$(stat -c %d /)\" ] && echo own-share"},
            .config_json = R"("mounts":[{"destination":"/data","type":"bind","source":")" +
                           data.path() + R"(","options":["rbind"]}])"});
  auto r = run(b, "bind-ra");
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << r.err;
  EXPECT_EQ(r.out, "1024\nown-share\n");
}

TEST_F(ContainerTest, BadConfigIsOneLineAndLeavesNothing) {
  Bundle b({.args = {}});
  auto r = run(b, "bad");
  ASSERT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 1);
  EXPECT_EQ(r.err, "runvm: run bad: config.json: process.args: must not be empty\n");
  EXPECT_TRUE(root_.entries().empty());
}

// containerd's k8s.io namespace: a 27-byte root and a 64-character id.
// Sockets under <root>/<id> would overflow sun_path; they live apart.
TEST_F(ContainerTest, LongIdUnderContainerdLikeRootWorks) {
  std::string root = root_.path() + "/run/containerd/runc/k8s.io";
  std::string id(64, 'a');
  for (size_t i = 0; i < id.size(); ++i) id[i] = "0123456789abcdef"[i * 7 % 16];
  Bundle b({.args = {"sh", "-c", "echo hi"}});
  auto r = run_command({runvm_binary(), "--root", root, "run", "-b", b.dir(), id});
  ASSERT_TRUE(WIFEXITED(r.status)) << r.status << r.err;
  EXPECT_EQ(WEXITSTATUS(r.status), 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(root)) left.push_back(e.path());
  EXPECT_TRUE(left.empty()) << left.front();
}

TEST_F(ContainerTest, RootTooLongForSocketsIsOneLine) {
  std::string root = root_.path() + "/" + std::string(100, 'r');
  Bundle b({.args = {"true"}});
  auto r = run_command({runvm_binary(), "--root", root, "run", "-b", b.dir(), "c"});
  ASSERT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 1);
  EXPECT_NE(r.err.find("runvm: run c: --root " + root + ": too long for unix socket paths"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(root));
}

TEST_F(ContainerTest, CreateStartStateKillDelete) {
  Bundle b({.args = {"sleep", "1000"}});
  TempDir io;
  std::string pid_file = io.path() + "/pid";
  // Detached verbs: the shim keeps the stdio it inherits, so give it files.
  auto sh = [&](const std::string& cmd) {
    std::string full;
    for (auto& a : runvm({})) full += a + " ";
    return system(
        (full + cmd + " </dev/null >>" + io.path() + "/out 2>>" + io.path() + "/err").c_str());
  };
  auto state = [&]() {
    auto r = run_command(runvm({"state", "ck"}));
    return r.out;
  };
  ASSERT_EQ(sh("create -b " + b.dir() + " --pid-file " + pid_file + " ck"), 0);
  std::ifstream pf(pid_file);
  pid_t pid = 0;
  pf >> pid;
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(testing::process_exists(pid));
  EXPECT_NE(state().find("\"status\": \"created\""), std::string::npos) << state();
  EXPECT_NE(state().find("\"pid\": " + std::to_string(pid)), std::string::npos) << state();
  EXPECT_NE(sh("create -b " + b.dir() + " ck"), 0);  // the id is taken
  ASSERT_EQ(sh("start ck"), 0);
  EXPECT_NE(state().find("\"status\": \"running\""), std::string::npos) << state();
  EXPECT_NE(sh("delete ck"), 0);  // running: needs --force
  ASSERT_EQ(sh("kill ck KILL"), 0);
  for (int i = 0; i < 100 && state().find("\"status\": \"stopped\"") == std::string::npos; ++i)
    usleep(100 * 1000);
  EXPECT_NE(state().find("\"status\": \"stopped\""), std::string::npos) << state();
  ASSERT_EQ(sh("delete ck"), 0);
  EXPECT_TRUE(root_.entries().empty());
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
}

// kill --all reaches every process of the container (the agent's rule: its
// cgroup subtree), not only the main process: here the main process ignores
// SIGTERM and only its child can die of it.
TEST_F(ContainerTest, KillAllReachesTheContainersChildren) {
  Bundle b(
      {.args = {"sh", "-c",
                "trap '' TERM; echo ready; (trap - TERM; exec sleep 1000); echo child-ended-$?"}});
  TempDir io;
  auto sh = [&](const std::string& cmd) {
    std::string full;
    for (auto& a : runvm({})) full += a + " ";
    return system(
        (full + cmd + " </dev/null >>" + io.path() + "/out 2>>" + io.path() + "/err").c_str());
  };
  auto stopped = [&](int tries) {
    for (int i = 0; i < tries; ++i) {
      if (run_command(runvm({"state", "ka"})).out.find("\"status\": \"stopped\"") !=
          std::string::npos)
        return true;
      usleep(100 * 1000);
    }
    return false;
  };
  ASSERT_EQ(sh("create -b " + b.dir() + " ka"), 0) << read_file(io.path() + "/err");
  ASSERT_EQ(sh("start ka"), 0) << read_file(io.path() + "/err");
  // Once the trap is set: a SIGTERM before it would end the main process.
  for (int i = 0; i < 100 && read_file(io.path() + "/out").empty(); ++i) usleep(100 * 1000);
  ASSERT_EQ(read_file(io.path() + "/out"), "ready\n");
  ASSERT_EQ(sh("kill ka TERM"), 0);
  EXPECT_FALSE(stopped(10)) << "the main process ignores SIGTERM: " << read_file(io.path() + "/out")
                            << read_file(io.path() + "/err");
  ASSERT_EQ(sh("kill --all ka TERM"), 0);
  EXPECT_TRUE(stopped(100));
  EXPECT_EQ(read_file(io.path() + "/out"), "ready\nchild-ended-143\n");
  ASSERT_EQ(sh("delete -f ka"), 0);
}

TEST_F(ContainerTest, ForceDeleteOfRunningContainerCleansUp) {
  Bundle b({.args = {"sleep", "1000"}});
  std::string base;
  for (auto& a : runvm({})) base += a + " ";
  ASSERT_EQ(system((base + "run -d -b " + b.dir() + " fd </dev/null >/dev/null 2>&1").c_str()), 0);
  ASSERT_EQ(system((base + "delete --force fd").c_str()), 0);
  EXPECT_TRUE(root_.entries().empty());
  for (int i = 0; i < 50 && !testing::qemu_processes_mentioning(root_.path()).empty(); ++i)
    usleep(100 * 1000);
  EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
}

}  // namespace
}  // namespace runvm
