// More of the OCI spec applied inside the guest, checked from inside the
// container: /dev (runc's default devices and linux.devices), mount and root
// propagation, ioPriority and scheduler, the guest cgroup's pids and hugetlb
// limits, runvm.io/* annotations sizing the VM, and symlinks in host bind
// mounts resolving in the container's view. Each refusal is one line, exit
// 1, nothing left behind.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/spec_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::BundleSpec;
using testing::SpecTest;
using testing::TempDir;

TEST_F(SpecTest, DevIsAMinimalTmpfsWithDefaultAndConfigDevices) {
  std::string out = run_ok(
      {.args = {"sh", "-c",
                "ls /dev; stat -c '%n %F %t:%T %a %u:%g' /dev/fuse /dev/disk/sdz /dev/mypipe "
                "/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; "
                "stat -c %N /dev/ptmx /dev/fd /dev/stdin /dev/stdout /dev/stderr; "
                "echo x > /dev/null && head -c 3 /dev/zero | wc -c; "
                "grep -E ' /dev(/pts|/shm)? ' /proc/self/mountinfo | "
                "while read a b c d mp e; do echo \"$mp ${e##* - }\"; done"},
       .config_json = R"("linux":{"devices":[
           {"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":384,"uid":1000,"gid":1000},
           {"path":"/dev/disk/sdz","type":"b","major":8,"minor":240,"fileMode":416,"gid":6},
           {"path":"/dev/mypipe","type":"p"}]})"},
      "devices");
  std::string expected =
      "disk\nfd\nfull\nfuse\nmqueue\nmypipe\nnull\nptmx\npts\nrandom\nshm\nstderr\nstdin\n"
      "stdout\ntty\nurandom\nzero\n"
      "/dev/fuse character special file a:e5 600 1000:1000\n"
      "/dev/disk/sdz block special file 8:f0 640 0:6\n"
      "/dev/mypipe fifo 0:0 666 0:0\n"
      "/dev/null character special file 1:3 666 0:0\n"
      "/dev/zero character special file 1:5 666 0:0\n"
      "/dev/full character special file 1:7 666 0:0\n"
      "/dev/random character special file 1:8 666 0:0\n"
      "/dev/urandom character special file 1:9 666 0:0\n"
      "/dev/tty character special file 5:0 666 0:0\n"
      "'/dev/ptmx' -> 'pts/ptmx'\n'/dev/fd' -> '/proc/self/fd'\n"
      "'/dev/stdin' -> '/proc/self/fd/0'\n'/dev/stdout' -> '/proc/self/fd/1'\n"
      "'/dev/stderr' -> '/proc/self/fd/2'\n3\n";
  ASSERT_EQ(out.substr(0, std::min(out.size(), expected.size())), expected);
  std::string mounts = out.substr(expected.size());
  EXPECT_NE(mounts.find("/dev tmpfs tmpfs rw,size=65536k,mode=755\n"), std::string::npos) << mounts;
  EXPECT_NE(mounts.find("/dev/pts devpts devpts rw"), std::string::npos) << mounts;
  EXPECT_NE(mounts.find("/dev/shm tmpfs shm rw"), std::string::npos) << mounts;
}

TEST_F(SpecTest, MountsAreMadeInTheConfigsOrder) {
  // runc's default spec (/sys last, /dev/mqueue after /dev/shm), a read-only
  // /dev (filled first, as runc does) and a bind source relative to the bundle.
  Bundle b({.args = {"sh", "-c",
                     "while read a b c d mp o rest; do case $mp in /proc|/dev*|/sys|/data) "
                     "echo $mp ${o%%,*};; esac; done < /proc/self/mountinfo; "
                     "touch /dev/x 2>/dev/null || echo dev-read-only; ls /dev/null; cat /data/f; "
                     // A bind mount's root names its source, as under runc.
                     "grep ' /data ' /proc/self/mountinfo | cut -d' ' -f4"},
            .config_json = R"("mounts":[
      {"destination":"/proc","type":"proc","source":"proc"},
      {"destination":"/dev","type":"tmpfs","source":"tmpfs",
       "options":["nosuid","strictatime","mode=755","size=65536k","ro"]},
      {"destination":"/dev/pts","type":"devpts","source":"devpts",
       "options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
      {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","size=65536k"]},
      {"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid"]},
      {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","ro"]},
      {"destination":"/data","type":"bind","source":"data","options":["rbind","ro"]}])"});
  std::filesystem::create_directories(b.dir() + "/data");
  std::ofstream(b.dir() + "/data/f") << "from the bundle\n";
  auto r = run(b, "mount-order");
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << ": " << r.err;
  EXPECT_EQ(r.out,
            "/proc rw\n/dev ro\n/dev/pts rw\n/dev/shm rw\n/dev/mqueue rw\n/sys ro\n/data ro\n"
            "dev-read-only\n/dev/null\nfrom the bundle\n/data\n");
}

TEST_F(SpecTest, BadDeviceIsRefusedOnTheHost) {
  expect_refused(
      {.args = {"true"}, .config_json = R"("linux":{"devices":[{"path":"/dev/x","type":"q"}]})"},
      "bad-dev", "config.json: linux.devices[0].type: must be one of c, b, u, p");
  expect_refused(
      {.args = {"true"},
       .config_json =
           R"("linux":{"devices":[{"path":"/dev/x","type":"c","major":5000,"minor":1}]})"},
      "bad-major", "config.json: linux.devices[0].major: must be between 0 and 4095");
}

// Each mountpoint of interest with its optional fields (shared:N, ...).
constexpr const char* kPropagationScript =
    "while read a b c d mp e; do f=\" ${e#* }\"; case $mp in /|/s|/u|/p) echo \"$mp:${f%% - *}\";;"
    " esac; done < /proc/self/mountinfo";

TEST_F(SpecTest, MountAndRootPropagation) {
  std::string out = run_ok({.args = {"sh", "-c", kPropagationScript}, .config_json = R"("mounts":[
           {"destination":"/s","type":"tmpfs","source":"tmpfs","options":["shared"]},
           {"destination":"/u","type":"tmpfs","source":"tmpfs","options":["runbindable"]},
           {"destination":"/p","type":"tmpfs","source":"tmpfs","options":["rprivate"]}],
         "linux":{"rootfsPropagation":"shared"})"},
                           "propagation");
  EXPECT_TRUE(std::regex_match(out, std::regex("/: shared:[0-9]+\n/s: shared:[0-9]+\n"
                                               "/u: unbindable\n/p:\n")))
      << out;
  // Without settings the container's mounts are private, as with runc's
  // rprivate default in a namespace nothing else shares.
  std::string plain = run_ok(
      {.args = {"sh", "-c", kPropagationScript},
       .config_json =
           R"("mounts":[{"destination":"/s","type":"tmpfs","source":"tmpfs","options":[]}])"},
      "propagation-default");
  EXPECT_EQ(plain, "/:\n/s:\n");
}

TEST_F(SpecTest, BadRootPropagationIsRefusedOnTheHost) {
  expect_refused({.args = {"true"}, .config_json = R"("linux":{"rootfsPropagation":"bogus"})"},
                 "bad-prop", "config.json: linux.rootfsPropagation: unknown propagation \"bogus\"");
}

// /proc/self/stat: 19 nice, 40 rt_priority, 41 policy (SCHED_FIFO = 1,
// SCHED_BATCH = 3); comm is "(cat)", one word.
constexpr const char* kSchedScript =
    "ionice -p $$; set -- $(cat /proc/self/stat); echo ${19} ${40} ${41}";

TEST_F(SpecTest, IoPriorityAndScheduler) {
  EXPECT_EQ(run_ok({.args = {"sh", "-c", kSchedScript},
                    .process_json = R"("ioPriority":{"class":"IOPRIO_CLASS_BE","priority":5},
                        "scheduler":{"policy":"SCHED_FIFO","priority":10})"},
                   "sched-fifo"),
            "best-effort: prio 5\n0 10 1\n");
  EXPECT_EQ(run_ok({.args = {"sh", "-c", kSchedScript},
                    .uid = 1000,
                    .gid = 1000,
                    .process_json = R"("ioPriority":{"class":"IOPRIO_CLASS_IDLE"},
                        "scheduler":{"policy":"SCHED_BATCH","nice":7})"},
                   "sched-batch"),
            "idle\n7 0 3\n");
}

TEST_F(SpecTest, SchedulerRefusals) {
  expect_refused(
      {.args = {"true"}, .process_json = R"("scheduler":{"policy":"SCHED_OTHER","priority":5})"},
      "sched-host",
      "config.json: process.scheduler.priority: only valid with SCHED_FIFO or "
      "SCHED_RR policy");
  // Utilization clamping is not built into the guest kernel.
  expect_refused({.args = {"true"}, .process_json = R"("scheduler":{"policy":"SCHED_OTHER",
                      "flags":["SCHED_FLAG_UTIL_CLAMP_MIN"]})"},
                 "sched-guest",
                 "process.scheduler: not supported by the guest kernel (sched_setattr: "
                 "Operation not supported)");
}

constexpr const char* kCgroupMount =
    R"("mounts":[{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup",
        "options":["nosuid","noexec","nodev","relatime","ro"]}])";

TEST_F(SpecTest, PidsAndHugetlbLimitsInTheGuestCgroup) {
  std::string out = run_ok(
      {.args = {"sh", "-c",
                "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/hugetlb.2MB.max /proc/self/cgroup; "
                "i=0; while [ $i -lt 20 ]; do sleep 1 & i=$((i+1)); done 2>&1 | "
                "grep -c \"can't fork\"; wait"},
       .config_json = std::string(kCgroupMount) + R"(,"linux":{"resources":{
           "pids":{"limit":10},"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}})"},
      "pids");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(out, m, std::regex("10\n4194304\n0::/\n([0-9]+)\n"))) << out;
  EXPECT_GT(std::stoi(m[1]), 0) << out;  // forks beyond the limit failed
}

// pids.current counts the exec'd process (sh execs cat) with the container's sleep.
TEST_F(SpecTest, ExecdProcessesJoinTheContainersCgroup) {
  Bundle b({.args = {"sleep", "600"},
            .config_json =
                std::string(kCgroupMount) + R"(,"linux":{"resources":{"pids":{"limit":10}}})"});
  std::string base = testing::runvm_binary() + " --root " + root_.path() + " ";
  ASSERT_EQ(system((base + "run -d -b " + b.dir() + " cg </dev/null >/dev/null 2>&1").c_str()), 0);
  auto r = testing::run_command({testing::runvm_binary(), "--root", root_.path(), "exec", "cg",
                                 "sh", "-c", "cat /sys/fs/cgroup/pids.current /proc/self/cgroup"});
  (void)system((base + "delete --force cg >/dev/null 2>&1").c_str());
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << ": " << r.err;
  EXPECT_EQ(r.out, "2\n0::/\n");
}

TEST_F(SpecTest, HugepageSizeTheGuestLacksIsRefused) {
  expect_refused({.args = {"true"}, .config_json = R"("linux":{"resources":{
                      "hugepageLimits":[{"pageSize":"64KB","limit":1}]}})"},
                 "hugetlb",
                 "linux.resources.hugepageLimits[0].pageSize: the guest kernel has no "
                 "64KB huge pages");
  expect_refused({.args = {"true"}, .config_json = R"("linux":{"resources":{
                      "hugepageLimits":[{"pageSize":"2 MB","limit":1}]}})"},
                 "hugetlb-host",
                 "config.json: linux.resources.hugepageLimits[0].pageSize: must be like \"2MB\"");
}

TEST_F(SpecTest, AnnotationsSizeTheVm) {
  std::string out = run_ok(
      {.args = {"sh", "-c",
                "grep MemTotal /proc/meminfo; grep -c ^processor /proc/cpuinfo; cat /proc/cmdline"},
       .config_json = R"("annotations":{"runvm.io/memory":"512M","runvm.io/vcpus":"2",
           "runvm.io/accel":"tcg","runvm.io/kernel-cmdline":"runvm.test=42 loglevel=3"})"},
      "annotations");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("MemTotal: +([0-9]+) kB\n2\n"))) << out;
  EXPECT_GT(std::stoul(m[1]), 400000u);  // 256 MiB by default
  EXPECT_LT(std::stoul(m[1]), 524288u);
  EXPECT_NE(out.find(" runvm.test=42 loglevel=3"), std::string::npos) << out;
}

TEST_F(SpecTest, BadAnnotationsAreRefusedOnTheHost) {
  expect_refused({.args = {"true"}, .config_json = R"("annotations":{"runvm.io/vcpus":"0"})"},
                 "bad-vcpus",
                 "config.json: annotations[\"runvm.io/vcpus\"]: \"0\" is not an integer between "
                 "1 and 64");
  expect_refused(
      {.args = {"true"}, .config_json = R"("annotations":{"runvm.io/memory":"lots"})"},
      "bad-memory",
      "config.json: annotations[\"runvm.io/memory\"]: \"lots\" is not a size like \"512M\"");
  expect_refused({.args = {"true"},
                  .config_json = R"("annotations":{"runvm.io/kernel-cmdline":"init=/bin/sh"})"},
                 "bad-cmdline", "init= cannot be set: runvm's agent is the guest's init");
}

// The virtio-fs backend resolves one name at a time and never follows a
// symlink on the host: the guest kernel reads the link and resolves it in
// the container's view, as a bind mount under runc resolves it in the
// container's mount namespace. Nothing outside the share is reachable.
TEST_F(SpecTest, SymlinksInBindMountsResolveInTheContainer) {
  TempDir share;
  std::filesystem::create_symlink("/etc", share.path() + "/abs");
  std::filesystem::create_symlink("../../../../../../etc", share.path() + "/rel");
  std::string name = "runvm-escape-" + std::to_string(::getpid());
  BundleSpec spec{.args = {"sh", "-c",
                           "cat /data/abs/marker /data/rel/marker; echo x > /data/abs/" + name +
                               "; ls /data/rel/"},
                  .config_json = R"("mounts":[{"destination":"/data","type":"bind","source":")" +
                                 share.path() + R"(","options":["rbind"]}])"};
  Bundle b(spec);
  std::ofstream(b.rootfs() + "/etc/marker") << "container etc\n";
  auto r = run(b, "symlinks");
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << ": " << r.err;
  EXPECT_EQ(r.out, "container etc\ncontainer etc\nmarker\n" + name + "\n");
  EXPECT_TRUE(std::filesystem::exists(b.rootfs() + "/etc/" + name));
  EXPECT_FALSE(std::filesystem::exists("/etc/" + name));
  EXPECT_EQ(std::filesystem::read_symlink(share.path() + "/abs"), "/etc");
}

}  // namespace
}  // namespace runvm
