// The OCI process and Linux spec applied inside the guest, checked from
// inside the container: capabilities, rlimits, no_new_privs, oom_score_adj,
// seccomp, mounts (host bind mounts over virtio-fs, tmpfs, masked and
// read-only paths), sysctl and domainname. Each refusal is one line and
// leaves nothing behind.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/integration/spec_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::BundleSpec;
using testing::read_file;
using testing::run_command;
using testing::runvm_binary;
using testing::SpecTest;
using testing::TempDir;

// CAP_CHOWN = bit 0, CAP_KILL = bit 5, CAP_NET_BIND_SERVICE = bit 10.
TEST_F(SpecTest, CapabilitiesOfANonRootUserIncludingAmbient) {
  std::string out = run_ok({.args = {"grep", "^Cap", "/proc/self/status"},
                            .uid = 1000,
                            .gid = 1000,
                            .process_json = R"("capabilities":{
          "bounding":["CAP_KILL","CAP_NET_BIND_SERVICE","CAP_CHOWN"],
          "effective":["CAP_KILL","CAP_CHOWN"],"permitted":["CAP_KILL","CAP_CHOWN"],
          "inheritable":["CAP_CHOWN"],"ambient":["CAP_CHOWN"]})"},
                           "caps-user");
  EXPECT_EQ(out,
            "CapInh:\t0000000000000001\nCapPrm:\t0000000000000001\nCapEff:\t0000000000000001\n"
            "CapBnd:\t0000000000000421\nCapAmb:\t0000000000000001\n");
}

TEST_F(SpecTest, CapabilitiesOfRootAreLimitedByTheBoundingSet) {
  std::string out = run_ok({.args = {"grep", "^Cap", "/proc/self/status"},
                            .process_json = R"("capabilities":{"bounding":["CAP_KILL"],
                                "effective":["CAP_KILL"],"permitted":["CAP_KILL"]})"},
                           "caps-root");
  EXPECT_EQ(out,
            "CapInh:\t0000000000000000\nCapPrm:\t0000000000000020\nCapEff:\t0000000000000020\n"
            "CapBnd:\t0000000000000020\nCapAmb:\t0000000000000000\n");
}

TEST_F(SpecTest, UmaskAndACwdOnlyItsOwnerMayEnter) {
  // As runc: the cwd is entered while still privileged, so root without
  // CAP_DAC_OVERRIDE (runc's default capabilities) gets into another
  // user's 0700 directory.
  Bundle b({.args = {"sh", "-c", "pwd; grep Umask /proc/self/status"},
            .cwd = "/home/u",
            .umask = 077,
            .process_json = R"("capabilities":{"bounding":["CAP_KILL"],
                "effective":["CAP_KILL"],"permitted":["CAP_KILL"]})"});
  std::filesystem::create_directories(b.rootfs() + "/home/u");
  ASSERT_EQ(::chown((b.rootfs() + "/home/u").c_str(), 1000, 1000), 0);
  ASSERT_EQ(::chmod((b.rootfs() + "/home/u").c_str(), 0700), 0);
  auto r = run(b, "cwd-umask");
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << ": " << r.err;
  EXPECT_EQ(r.out, "/home/u\nUmask:\t0077\n");
}

TEST_F(SpecTest, NamespacePathsOfTheWrongTypeOrTheHostsAreRefused) {
  expect_refused(
      {.args = {"true"},
       .config_json = R"("linux":{"namespaces":[{"type":"mount","path":"/proc/self/ns/net"}]})"},
      "ns-type",
      "config.json: linux.namespaces[0].path: /proc/self/ns/net is a network namespace, not "
      "mount");
  // This test's own ipc namespace: a host process's.
  std::string ipc = "/proc/" + std::to_string(getpid()) + "/ns/ipc";
  expect_refused({.args = {"true"},
                  .config_json = R"("linux":{"namespaces":[{"type":"pid"},{"type":"ipc","path":")" +
                                 ipc + "\"}]}"},
                 "ns-host",
                 "config.json: linux.namespaces[1].path: cannot join the host's ipc namespace " +
                     ipc + ": a runvm container has its guest kernel's own");
}

TEST_F(SpecTest, UnknownCapabilityIsRefusedOnTheHost) {
  expect_refused(
      {.args = {"true"},
       .process_json = R"("capabilities":{"bounding":["CAP_KILL","CAP_CHOWN","CAP_FOO"]})"},
      "bad-cap", "config.json: process.capabilities.bounding[2]: unknown capability \"CAP_FOO\"");
}

TEST_F(SpecTest, RlimitsNoNewPrivsAndOomScoreAdj) {
  std::string out =
      run_ok({.args = {"sh", "-c",
                       "ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status; "
                       "cat /proc/self/oom_score_adj"},
              .process_json = R"("rlimits":[{"type":"RLIMIT_NOFILE","soft":123,"hard":456}],
           "noNewPrivileges":true,"oomScoreAdj":321,"apparmorProfile":"docker-default",
           "selinuxLabel":"system_u:system_r:container_t:s0")"},
             "limits");
  EXPECT_EQ(out, "123\n456\nNoNewPrivs:\t1\n321\n");
}

TEST_F(SpecTest, UnknownRlimitIsRefusedOnTheHost) {
  expect_refused(
      {.args = {"true"}, .process_json = R"("rlimits":[{"type":"RLIMIT_FOO","soft":1,"hard":1}])"},
      "bad-rlimit", "config.json: process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"");
}

// mkdir fails with errnoRet (EACCES), kill of SIGUSR1 (arg 1 == 10) with
// the default EPERM, anything else is allowed; unknown names are skipped.
constexpr const char* kSeccomp = R"("linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW",
    "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
    "syscalls":[{"names":["mkdir","mkdirat","no_such_syscall"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
                {"names":["kill"],"action":"SCMP_ACT_ERRNO",
                 "args":[{"index":1,"value":10,"op":"SCMP_CMP_EQ"}]}]}})";

TEST_F(SpecTest, SeccompProfileLoadedLastWithNoNewPrivs) {
  std::string out = run_ok(
      {.args = {"sh", "-c",
                "mkdir /tmp/x 2>&1; kill -USR1 $$ 2>&1 | grep -c 'not permitted'; "
                "kill -0 $$ && echo alive; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status"},
       .uid = 1000,
       .gid = 1000,
       .process_json = R"("noNewPrivileges":true)",
       .config_json = kSeccomp},
      "seccomp-nnp");
  EXPECT_EQ(out,
            "mkdir: can't create directory '/tmp/x': Permission denied\n1\nalive\n"
            "NoNewPrivs:\t1\nSeccomp:\t2\n");
}

TEST_F(SpecTest, SeccompWithoutNoNewPrivsIsLoadedWhileRoot) {
  std::string out = run_ok({.args = {"sh", "-c",
                                     "mkdir /tmp/y 2>&1; grep -E '^(Seccomp|NoNewPrivs):' "
                                     "/proc/self/status"},
                            .uid = 1000,
                            .gid = 1000,
                            .config_json = kSeccomp},
                           "seccomp-root");
  EXPECT_EQ(out,
            "mkdir: can't create directory '/tmp/y': Permission denied\nNoNewPrivs:\t0\n"
            "Seccomp:\t2\n");
}

TEST_F(SpecTest, ExecdProcessesGetTheContainersSeccompProfile) {
  Bundle b({.args = {"sleep", "600"}, .config_json = kSeccomp});
  std::string base = runvm_binary() + " --root " + root_.path() + " ";
  ASSERT_EQ(system((base + "run -d -b " + b.dir() + " sx </dev/null >/dev/null 2>&1").c_str()), 0);
  auto r = run_command({runvm_binary(), "--root", root_.path(), "exec", "sx", "sh", "-c",
                        "mkdir /tmp/z 2>&1; grep -E '^Seccomp:' /proc/self/status"});
  (void)system((base + "delete --force sx >/dev/null 2>&1").c_str());
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << ": " << r.err;
  EXPECT_EQ(r.out, "mkdir: can't create directory '/tmp/z': Permission denied\nSeccomp:\t2\n");
}

TEST_F(SpecTest, SeccompNotifyIsRefusedOnTheHost) {
  expect_refused(
      {.args = {"true"}, .config_json = R"("linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW",
                      "listenerPath":"/run/seccomp.sock"}})"},
      "notify", "config.json: linux.seccomp.listenerPath: seccomp notify is not supported");
}

TEST_F(SpecTest, MountsMaskedAndReadonlyPaths) {
  TempDir rw, ro, files;
  std::ofstream(ro.path() + "/seen") << "from the host\n";
  std::ofstream(files.path() + "/single.conf") << "one file\n";
  std::string cfg = R"("mounts":[
      {"destination":"/data","type":"bind","source":")" +
                    rw.path() + R"(","options":["rbind"]},
      {"destination":"/ro","source":")" +
                    ro.path() + R"(","options":["bind","ro"]},
      {"destination":"/etc/single.conf","type":"bind","source":")" +
                    files.path() +
                    R"(/single.conf","options":["bind","ro"]},
      {"destination":"/scratch","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=1777","size=1m"]},
      {"destination":"/proc","type":"proc","source":"proc"}],
    "linux":{"maskedPaths":["/etc/secret","/secretdir","/nonexistent"],
             "readonlyPaths":["/rodir","/nonexistent2"],
             "sysctl":{"vm.overcommit_ratio":"77"}},
    "domainname":"example.org")";
  BundleSpec spec{.args = {"sh", "-c",
                           "echo written > /data/new && echo rw-ok; cat /ro/seen; "
                           "touch /ro/x 2>&1; cat /etc/single.conf; stat -c %a /scratch; "
                           "grep -c ' /scratch tmpfs rw,nosuid' /proc/mounts; "
                           "echo -n secret:; cat /etc/secret; ls /secretdir; "
                           "touch /rodir/x 2>&1; cat /proc/sys/vm/overcommit_ratio; "
                           "cat /proc/sys/kernel/domainname"},
                  .config_json = cfg};
  Bundle b(spec);
  std::ofstream(b.rootfs() + "/etc/secret") << "hidden\n";
  std::filesystem::create_directories(b.rootfs() + "/secretdir");
  std::ofstream(b.rootfs() + "/secretdir/inside") << "hidden\n";
  std::filesystem::create_directories(b.rootfs() + "/rodir");
  auto r = run(b, "mounts");
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << ": " << r.err;
  EXPECT_EQ(r.out,
            "rw-ok\nfrom the host\ntouch: /ro/x: Read-only file system\none file\n1777\n1\n"
            "secret:touch: /rodir/x: Read-only file system\n77\nexample.org\n");
  EXPECT_EQ(read_file(rw.path() + "/new"), "written\n");
  EXPECT_FALSE(std::filesystem::exists(ro.path() + "/x"));
  EXPECT_EQ(read_file(b.rootfs() + "/etc/secret"), "hidden\n");
}

TEST_F(SpecTest, MissingBindSourceIsRefusedOnTheHost) {
  expect_refused({.args = {"true"}, .config_json = R"("mounts":[{"destination":"/x","type":"bind",
                      "source":"/nonexistent/runvm-bind"}])"},
                 "bad-bind", "config.json: mounts[0].source: \"/nonexistent/runvm-bind\"");
}

TEST_F(SpecTest, BadSysctlKeys) {
  expect_refused({.args = {"true"}, .config_json = R"("linux":{"sysctl":{"../x":"1"}})"},
                 "bad-sysctl", "config.json: linux.sysctl: invalid key \"../x\"");
  expect_refused(
      {.args = {"true"}, .config_json = R"("linux":{"sysctl":{"kernel.no_such_key":"1"}})"},
      "missing-sysctl", "linux.sysctl: \"kernel.no_such_key\": open /proc/sys/kernel/no_such_key");
}

}  // namespace
}  // namespace runvm
