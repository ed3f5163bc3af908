#include <gtest/gtest.h>

#include <string>

#include "spec/config.h"

namespace runvm::oci {
namespace {

// What podman/containerd hand a runtime, trimmed: runc spec's defaults plus
// devices, resources, sysctls, id mappings and a seccomp profile.
constexpr std::string_view kRealistic = R"({
  "ociVersion": "1.1.0",
  "process": {
    "user": {"uid": 0, "gid": 0, "additionalGids": [0, 10]},
    "args": ["/bin/sh", "-c", "echo hi"],
    "env": ["PATH=/usr/bin:/bin", "TERM=xterm", "container=podman"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_KILL"],
      "effective": ["CAP_CHOWN", "CAP_KILL"],
      "permitted": ["CAP_CHOWN", "CAP_KILL"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}],
    "oomScoreAdj": 0
  },
  "root": {"path": "/var/lib/containers/overlay/merged", "readonly": false},
  "hostname": "abc",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
  ],
  "annotations": {"io.container.manager": "libpod"},
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "sysctl": {"net.ipv4.ping_group_range": "0 0"},
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 136, "access": "rw"}
      ],
      "memory": {"limit": 536870912, "reservation": 268435456, "swap": -1, "swappiness": 60, "disableOOMKiller": false},
      "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
      "pids": {"limit": 2048},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
      "blockIO": {"weight": 10},
      "unified": {"memory.high": "max"}
    },
    "cgroupsPath": "machine.slice:libpod:abc",
    "namespaces": [
      {"type": "pid"}, {"type": "network", "path": "/run/netns/cni-1"}, {"type": "ipc"},
      {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}
    ],
    "devices": [
      {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
      {"path": "/dev/pipe", "type": "p"}
    ],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 38,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
      "syscalls": [
        {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
      ]
    },
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "system_u:object_r:container_file_t:s0",
    "intelRdt": {"closID": "x"}
  }
})";

TEST(ParseConfigLinux, RealisticConfig) {
  auto c = parse_config(kRealistic);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_TRUE(c->linux_);
  const Linux& l = *c->linux_;
  ASSERT_EQ(l.uid_mappings.size(), 1u);
  EXPECT_EQ(l.uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(l.gid_mappings[0].size, 65536u);
  EXPECT_EQ(l.sysctl.at("net.ipv4.ping_group_range"), "0 0");
  EXPECT_EQ(l.cgroups_path, "machine.slice:libpod:abc");

  ASSERT_EQ(l.namespaces.size(), 7u);
  EXPECT_EQ(l.namespaces[1].type, NamespaceType::kNetwork);
  EXPECT_EQ(l.namespaces[1].path, "/run/netns/cni-1");
  EXPECT_EQ(l.namespaces[6].type, NamespaceType::kUser);

  ASSERT_EQ(l.devices.size(), 2u);
  EXPECT_EQ(l.devices[0].major, 10);
  EXPECT_EQ(l.devices[0].minor, 229);
  EXPECT_EQ(l.devices[0].file_mode, 0666u);
  EXPECT_EQ(l.devices[1].type, "p");
  EXPECT_FALSE(l.devices[1].uid);

  ASSERT_TRUE(l.resources);
  const Resources& r = *l.resources;
  ASSERT_EQ(r.devices.size(), 3u);
  EXPECT_FALSE(r.devices[0].allow);
  EXPECT_EQ(r.devices[0].type, "");
  EXPECT_FALSE(r.devices[0].major);
  EXPECT_EQ(r.devices[2].major, 136);
  EXPECT_FALSE(r.devices[2].minor);
  EXPECT_EQ(r.devices[2].access, "rw");
  EXPECT_EQ(r.memory->limit, 536870912);
  EXPECT_EQ(r.memory->swap, -1);
  EXPECT_EQ(r.memory->swappiness, 60u);
  EXPECT_EQ(r.memory->disable_oom_killer, false);
  EXPECT_EQ(r.cpu->shares, 1024u);
  EXPECT_EQ(r.cpu->quota, 50000);
  EXPECT_EQ(r.cpu->period, 100000u);
  EXPECT_EQ(r.cpu->cpus, "0-1");
  EXPECT_EQ(r.pids->limit, 2048);
  ASSERT_EQ(r.hugepage_limits.size(), 1u);
  EXPECT_EQ(r.hugepage_limits[0].page_size, "2MB");
  EXPECT_EQ(r.unified.at("memory.high"), "max");

  ASSERT_TRUE(l.seccomp);
  const Seccomp& s = *l.seccomp;
  EXPECT_EQ(s.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s.default_errno_ret, 38u);
  EXPECT_EQ(s.architectures.size(), 3u);
  EXPECT_EQ(s.flags, std::vector<std::string>{"SECCOMP_FILTER_FLAG_SPEC_ALLOW"});
  ASSERT_EQ(s.syscalls.size(), 4u);
  EXPECT_EQ(s.syscalls[0].names.size(), 3u);
  ASSERT_EQ(s.syscalls[2].args.size(), 1u);
  EXPECT_EQ(s.syscalls[2].args[0].value, 2114060288u);
  EXPECT_EQ(s.syscalls[2].args[0].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(s.syscalls[1].args[0].value, 4294967295u);
  EXPECT_EQ(s.syscalls[3].errno_ret, 1u);
  EXPECT_FALSE(s.syscalls[0].errno_ret);

  EXPECT_EQ(l.rootfs_propagation, "rslave");
  EXPECT_EQ(l.masked_paths.size(), 2u);
  EXPECT_EQ(l.readonly_paths, std::vector<std::string>{"/proc/sys"});
  EXPECT_EQ(l.mount_label, "system_u:object_r:container_file_t:s0");
}

std::string with_linux(std::string_view members) {
  return R"({"ociVersion":"1.0.2","root":{"path":"r"},"linux":{)" + std::string(members) + "}}";
}

struct ErrorCase {
  std::string json;
  std::string error;
  friend void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.json; }
};

class LinuxErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(LinuxErrors, NamesThePath) {
  auto c = parse_config(GetParam().json);
  ASSERT_FALSE(c.ok()) << GetParam().json;
  EXPECT_EQ(c.error().message, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Linux, LinuxErrors,
    testing::Values(
        ErrorCase{R"({"ociVersion":"1","root":{"path":"r"},"linux":[]})",
                  "linux: must be an object"},
        ErrorCase{with_linux(R"("namespaces":[{"type":"foo"}])"),
                  R"(linux.namespaces[0].type: unknown namespace "foo")"},
        ErrorCase{with_linux(R"("namespaces":[{"path":"/x"}])"),
                  "linux.namespaces[0].type: is required"},
        ErrorCase{with_linux(R"("namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"pid"}])"),
                  R"(linux.namespaces[2].type: duplicate namespace "pid")"},
        ErrorCase{with_linux(R"("namespaces":[{"type":"network","path":"netns"}])"),
                  "linux.namespaces[0].path: must be an absolute path"},
        ErrorCase{with_linux(R"("uidMappings":[{"containerID":0,"hostID":1000}])"),
                  "linux.uidMappings[0].size: is required"},
        ErrorCase{with_linux(R"("gidMappings":[{"containerID":0,"hostID":1000,"size":0}])"),
                  "linux.gidMappings[0].size: must be greater than zero"},
        ErrorCase{with_linux(R"("uidMappings":[{"containerID":-1,"hostID":1,"size":1}])"),
                  "linux.uidMappings[0].containerID: must be a non-negative integer"},
        ErrorCase{with_linux(R"("devices":[{"type":"x","path":"/dev/x"}])"),
                  "linux.devices[0].type: must be one of c, b, u, p"},
        ErrorCase{with_linux(R"("devices":[{"type":"c","path":"//","major":1,"minor":1}])"),
                  "linux.devices[0].path: must name a file"},
        ErrorCase{with_linux(R"("devices":[{"type":"c","path":"/d","major":4096,"minor":1}])"),
                  "linux.devices[0].major: must be between 0 and 4095"},
        ErrorCase{with_linux(R"("devices":[{"type":"b","path":"/d","major":8,"minor":-1}])"),
                  "linux.devices[0].minor: must be between 0 and 1048575"},
        ErrorCase{
            with_linux(
                R"("devices":[{"type":"c","path":"/d","major":1,"minor":1,"fileMode":65536}])"),
            "linux.devices[0].fileMode: must be permission bits (at most 07777)"},
        ErrorCase{with_linux(R"("devices":[{"type":"c","path":"dev/x","major":1,"minor":1}])"),
                  "linux.devices[0].path: must be an absolute path"},
        ErrorCase{with_linux(R"("devices":[{"type":"b","path":"/dev/sda","minor":1}])"),
                  "linux.devices[0].major: is required"},
        ErrorCase{
            with_linux(R"("devices":[{"type":"c","path":"/d","major":1,"minor":1,"fileMode":-1}])"),
            "linux.devices[0].fileMode: must be a non-negative integer"},
        ErrorCase{with_linux(R"("sysctl":{"a":1})"), R"(linux.sysctl["a"]: must be a string)"},
        ErrorCase{with_linux(R"("rootfsPropagation":"shared-ish")"),
                  R"(linux.rootfsPropagation: unknown propagation "shared-ish")"},
        ErrorCase{with_linux(R"("maskedPaths":"/proc")"), "linux.maskedPaths: must be an array"},
        ErrorCase{with_linux(R"("resources":{"devices":[{"access":"rwm"}]})"),
                  "linux.resources.devices[0].allow: is required"},
        ErrorCase{with_linux(R"("resources":{"devices":[{"allow":true,"access":"rwx"}]})"),
                  "linux.resources.devices[0].access: must contain only the letters r, w and m"},
        ErrorCase{with_linux(R"("resources":{"devices":[{"allow":true,"type":"p"}]})"),
                  R"(linux.resources.devices[0].type: unknown device type "p")"},
        ErrorCase{with_linux(R"("resources":{"devices":[{"allow":true,"major":-2}]})"),
                  "linux.resources.devices[0].major: must be between -1 and 9223372036854775807"},
        ErrorCase{with_linux(R"("resources":{"memory":{"limit":"1G"}})"),
                  "linux.resources.memory.limit: must be an integer"},
        ErrorCase{with_linux(R"("resources":{"cpu":{"shares":-1}})"),
                  "linux.resources.cpu.shares: must be a non-negative integer"},
        ErrorCase{with_linux(R"("resources":{"pids":{}})"),
                  "linux.resources.pids.limit: is required"},
        ErrorCase{with_linux(R"("resources":{"hugepageLimits":[{"limit":1}]})"),
                  "linux.resources.hugepageLimits[0].pageSize: is required"},
        ErrorCase{
            with_linux(R"("resources":{"hugepageLimits":[{"pageSize":"2M","limit":1}]})"),
            R"(linux.resources.hugepageLimits[0].pageSize: must be like "2MB" (KB, MB or GB))"},
        ErrorCase{with_linux(R"("seccomp":{})"), "linux.seccomp.defaultAction: is required"},
        ErrorCase{with_linux(R"("seccomp":{"defaultAction":"SCMP_ACT_MAYBE"})"),
                  R"(linux.seccomp.defaultAction: unknown action "SCMP_ACT_MAYBE")"},
        ErrorCase{with_linux(R"("seccomp":{"defaultAction":"SCMP_ACT_NOTIFY"})"),
                  "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
        ErrorCase{
            with_linux(R"("seccomp":{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1})"),
            "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE"},
        ErrorCase{
            with_linux(
                R"("seccomp":{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]})"),
            R"(linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_Z80")"},
        ErrorCase{
            with_linux(
                R"("seccomp":{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NEW_LISTENER"]})"),
            R"(linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER")"},
        ErrorCase{
            with_linux(
                R"("seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]})"),
            "linux.seccomp.syscalls[0].names: must not be empty"},
        ErrorCase{
            with_linux(
                R"("seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"]}]})"),
            "linux.seccomp.syscalls[0].action: is required"},
        ErrorCase{
            with_linux(
                R"("seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_KILL","errnoRet":1}]})"),
            "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE"},
        ErrorCase{
            with_linux(
                R"("seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_KILL","args":[{"index":6,"op":"SCMP_CMP_EQ"}]}]})"),
            "linux.seccomp.syscalls[0].args[0].index: must be at most 5"},
        ErrorCase{
            with_linux(
                R"("seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_KILL","args":[{"index":0,"op":"SCMP_CMP_SIMILAR"}]}]})"),
            R"(linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_SIMILAR")"}));

}  // namespace
}  // namespace runvm::oci
