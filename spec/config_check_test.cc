#include "spec/config_check.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace runvm::oci {
namespace {

std::string check(std::string_view process_members, std::string_view top_members = "") {
  std::string json = R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},)";
  json += R"("process":{"args":["sh"],"cwd":"/")";
  if (!process_members.empty()) json += "," + std::string(process_members);
  json += "}";
  if (!top_members.empty()) json += "," + std::string(top_members);
  json += "}";
  auto c = parse_config(json);
  if (!c.ok()) return "parse: " + c.error().message;
  runvm::Status s = check_supported(*c);
  return s.ok() ? "ok" : s.error().message;
}

TEST(CheckSupported, HooksMustBeThereAndRunnable) {
  EXPECT_EQ(check("", R"("hooks":{"prestart":[{"path":"/bin/true"}]})"), "ok");
  EXPECT_EQ(check("", R"("hooks":{"poststop":[{"path":"/bin/true"},{"path":"/no/such"}]})"),
            "hooks.poststop[1].path: \"/no/such\": No such file or directory");
  EXPECT_EQ(check("", R"("hooks":{"createRuntime":[{"path":"/"}]})"),
            "hooks.createRuntime[0].path: \"/\" is not a regular file");
  runvm::testing::TempDir dir{"runvm-hook"};
  std::string plain = dir.path() + "/not-executable";
  std::ofstream(plain) << "#!/bin/sh\n";
  chmod(plain.c_str(), 0644);
  EXPECT_EQ(check("", R"("hooks":{"startContainer":[{"path":")" + plain + R"("}]})"),
            "hooks.startContainer[0].path: \"" + plain + "\": Permission denied");
}

TEST(CheckSupported, KnownCapabilitiesPass) {
  EXPECT_EQ(check(R"("capabilities":{"bounding":["CAP_KILL","CAP_SYS_ADMIN"],
      "effective":["CAP_CHOWN"],"inheritable":[],"permitted":["CAP_CHOWN"],
      "ambient":["CAP_NET_RAW"]})"),
            "ok");
}

TEST(CheckSupported, UnknownCapabilityNamesItsPath) {
  EXPECT_EQ(check(R"("capabilities":{"bounding":["CAP_KILL","CAP_CHOWN","CAP_FOO"]})"),
            "process.capabilities.bounding[2]: unknown capability \"CAP_FOO\"");
  EXPECT_EQ(check(R"("capabilities":{"ambient":["cap_kill"]})"),
            "process.capabilities.ambient[0]: unknown capability \"cap_kill\"");
  EXPECT_EQ(check(R"("capabilities":{"permitted":["12"]})"),
            "process.capabilities.permitted[0]: unknown capability \"12\"");
}

TEST(CheckSupported, Rlimits) {
  EXPECT_EQ(check(R"("rlimits":[{"type":"RLIMIT_NOFILE","soft":1,"hard":2},
      {"type":"RLIMIT_RTTIME","soft":1,"hard":2}])"),
            "ok");
  EXPECT_EQ(check(R"("rlimits":[{"type":"RLIMIT_FOO","soft":1,"hard":2}])"),
            "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"");
}

TEST(CheckSupported, SeccompNotifyIsRefused) {
  EXPECT_EQ(check("", R"("linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW",
      "listenerPath":"/run/l.sock"}})"),
            "linux.seccomp.listenerPath: seccomp notify is not supported");
  EXPECT_EQ(check("", R"("linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW",
      "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}})"),
            "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported");
  EXPECT_EQ(check("", R"("linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW",
      "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_AARCH64"],
      "syscalls":[{"names":["mkdir","no_such_syscall"],"action":"SCMP_ACT_ERRNO"}]}})"),
            "ok");
}

TEST(CheckSupported, UserNamespacesAreRefusedClearly) {
  auto c = parse_config(R"({"ociVersion":"1.0.2","root":{"path":"r"},
      "linux":{"namespaces":[{"type":"pid"},{"type":"user"}],
               "uidMappings":[{"containerID":0,"hostID":1000,"size":1}]}})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto s = check_supported(*c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(
      s.error().message.rfind("linux.namespaces[1].type: user namespaces are not supported", 0), 0u)
      << s.error().message;
  auto plain = parse_config(R"({"ociVersion":"1.0.2","root":{"path":"r"},
      "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}})");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(check_supported(*plain).ok());
}

TEST(CheckSupported, SysctlKeys) {
  EXPECT_TRUE(valid_sysctl_key("net.ipv4.ip_forward"));
  EXPECT_TRUE(valid_sysctl_key("kernel/msgmax"));
  EXPECT_FALSE(valid_sysctl_key(""));
  EXPECT_FALSE(valid_sysctl_key("net..x"));
  EXPECT_FALSE(valid_sysctl_key("../../etc/passwd"));
  EXPECT_FALSE(valid_sysctl_key("/kernel"));
  EXPECT_FALSE(valid_sysctl_key("kernel."));
  EXPECT_EQ(check("", R"("linux":{"sysctl":{"kernel..x":"1"}})"),
            "linux.sysctl: invalid key \"kernel..x\"");
}

TEST(CheckSupported, Mounts) {
  EXPECT_EQ(check("", R"("mounts":[{"destination":"/proc","type":"proc","source":"proc"},
      {"destination":"/data","type":"bind","source":"/tmp","options":["rbind","ro"]},
      {"destination":"/t","type":"tmpfs","source":"tmpfs","options":["size=1m"]}])"),
            "ok");
  EXPECT_EQ(check("", R"("mounts":[{"destination":"/x","type":"ext4","source":"/dev/sda"}])"),
            "mounts[0].type: unsupported mount type \"ext4\"");
  EXPECT_EQ(
      check("",
            R"("mounts":[{"destination":"/x","source":"/nonexistent-runvm","options":["bind"]}])"),
      "mounts[0].source: \"/nonexistent-runvm\": No such file or directory");
  EXPECT_EQ(check("", R"("mounts":[{"destination":"/x","type":"bind","source":""}])"),
            "mounts[0].source: a bind mount needs a host path");
}

TEST(CheckSupported, Scheduler) {
  EXPECT_EQ(check(R"("scheduler":{"policy":"SCHED_FIFO","priority":10})"), "ok");
  EXPECT_EQ(check(R"("scheduler":{"policy":"SCHED_BATCH","nice":5})"), "ok");
  EXPECT_EQ(check(R"("scheduler":{"policy":"SCHED_DEADLINE","runtime":1000000,
      "deadline":2000000,"period":3000000})"),
            "ok");
  EXPECT_EQ(check(R"("scheduler":{"policy":"SCHED_ISO"})"),
            "process.scheduler.policy: SCHED_ISO is not implemented by Linux");
  EXPECT_EQ(check(R"("scheduler":{"policy":"SCHED_OTHER","priority":3})"),
            "process.scheduler.priority: only valid with SCHED_FIFO or SCHED_RR policy");
  EXPECT_EQ(check(R"("scheduler":{"policy":"SCHED_RR"})"),
            "process.scheduler.priority: must be between 1 and 99 for SCHED_RR");
  EXPECT_EQ(check(R"("scheduler":{"policy":"SCHED_IDLE","runtime":5})"),
            "process.scheduler: runtime, deadline and period are only valid with SCHED_DEADLINE");
}

TEST(CheckSupported, VmAnnotations) {
  EXPECT_EQ(check("", R"("annotations":{"runvm.io/memory":"512M","runvm.io/vcpus":"2"})"), "ok");
  EXPECT_EQ(check("", R"("annotations":{"runvm.io/vcpus":"many"})"),
            R"(annotations["runvm.io/vcpus"]: "many" is not an integer between 1 and 64)");
}

TEST(CheckSupported, IgnoredSettingsAreListed) {
  auto c = parse_config(
      R"({"ociVersion":"1.0.2","root":{"path":"r"},"process":{"args":["sh"],"cwd":"/",
      "apparmorProfile":"docker-default","selinuxLabel":"system_u:system_r:container_t"}})");
  ASSERT_TRUE(c.ok());
  auto lines = ignored_settings(*c);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("apparmorProfile \"docker-default\" ignored"), std::string::npos);
}

}  // namespace
}  // namespace runvm::oci
